"""What a notification says: an email's subject and text in the recipient's language (zh-CN
or English, one language per message), and a webhook's JSON body, with links to the pages."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from .model import Case, OutboxEvent, Task

SUBJECTS = {
    "task_offered": ("新任务：{task}（{number} {title}）", "New task: {task} ({number} {title})"),
    "task_assigned": ("指派给您的任务：{task}（{number} {title}）", "Assigned to you: {task} ({number} {title})"),
    "overdue": ("已超期：{task}（{number} {title}）", "Overdue: {task} ({number} {title})"),
    "case_overdue": ("案件已超期：{number} {title}", "Case overdue: {number} {title}"),
    "urged": ("催办：{task}（{number} {title}）", "Urged: {task} ({number} {title})"),
    "escalated": ("案件已升级至第 {level} 级：{number} {title}", "Case escalated to level {level}: {number} {title}"),
    "case_closed": ("案件已结案：{number} {title}", "Case closed: {number} {title}"),
}
LINES = {
    "case": ("案件：{number} {title}", "Case: {number} {title}"),
    "task": ("任务：{task}", "Task: {task}"),
    "due": ("截止时间：{due}", "Due: {due}"),
    "note": ("催办说明：{note}", "Note: {note}"),
    "consult": ("会商单位：{unit}", "Consulting unit: {unit}"),
    "satisfaction": ("评价：{satisfaction}", "Rating: {satisfaction}"),
    "link": ("查看：{url}", "Open: {url}"),
    "footer": ("您收到此邮件是因为您的通知设置；可在“通知设置”页面更改。",
               "You receive this because of your notification settings; change them on the Notifications page."),
}
SATISFACTION = {"satisfied": ("满意", "satisfied"), "basically_satisfied": ("基本满意", "basically satisfied"),
                "unsatisfied": ("不满意", "unsatisfied"), "no_feedback": ("未评价", "no feedback")}


@dataclass(frozen=True)
class Renderer:
    """Renders notifications with links on ``public_url`` and times in ``tz``."""

    public_url: str
    tz: tzinfo

    def _url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path

    def _link(self, case: Case | None, task: Task | None) -> str | None:
        if task is not None:
            return self._url(f"/tasks/{task.id}")
        return self._url(f"/cases/{case.id}") if case is not None else None

    def _due(self, when: datetime | None) -> str | None:
        return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if when else None

    def email(self, event: OutboxEvent, case: Case | None, task: Task | None, language: str) -> tuple[str, str]:
        """The subject and plain text of an email about ``event`` in ``language`` (zh / en)."""
        i = 1 if language == "en" else 0
        payload = event.payload or {}
        task_name = (task.name_zh or task.name if i == 0 else task.name) if task is not None else ""
        values = {"task": task_name, "number": case.number if case else "", "title": case.title if case else "",
                  "level": payload.get("escalation_level", "")}
        kind = "case_overdue" if event.kind == "overdue" and task is None else event.kind
        subject = SUBJECTS[kind][i].format(**values).strip()
        lines = [LINES["case"][i].format(**values)] if case is not None else []
        if task is not None:
            lines.append(LINES["task"][i].format(**values))
            if task.due_at is not None:
                lines.append(LINES["due"][i].format(due=self._due(task.due_at)))
        if payload.get("note"):
            lines.append(LINES["note"][i].format(note=payload["note"]))
        if payload.get("consult_unit"):
            lines.append(LINES["consult"][i].format(unit=payload["consult_unit"]))
        if payload.get("satisfaction") in SATISFACTION:
            lines.append(LINES["satisfaction"][i].format(satisfaction=SATISFACTION[payload["satisfaction"]][i]))
        link = self._link(case, task)
        if link:
            lines.append(LINES["link"][i].format(url=link))
        lines += ["", LINES["footer"][i]]
        return subject, "\n".join(lines) + "\n"

    def webhook(self, event: OutboxEvent, case: Case | None, task: Task | None) -> str:
        """The JSON body POSTed to a webhook (documented in docs/notifications.md)."""
        body: dict[str, Any] = {"event": event.kind, "event_id": event.id,
                                "occurred_at": event.created_at.isoformat(), "details": event.payload or {}}
        if case is not None:
            body["case"] = {"number": case.number, "title": case.title, "category": case.category,
                            "source": case.source, "status": case.status, "stage": case.stage,
                            "due_at": case.due_at.isoformat() if case.due_at else None,
                            "url": self._url(f"/cases/{case.id}")}
        if task is not None:
            body["task"] = {"id": task.id, "name": task.name, "name_zh": task.name_zh, "status": task.status,
                            "due_at": task.due_at.isoformat() if task.due_at else None,
                            "url": self._url(f"/tasks/{task.id}")}
        return json.dumps(body, ensure_ascii=False, sort_keys=True)
