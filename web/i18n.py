"""zh-CN and English: every user-visible string of the HTML pages, in one dictionary.

The language comes from the session (the switch in the header) or else Accept-Language;
Chinese is the default because the users are in Shenyang. Labels of form fields and enum
values come from the form schemas themselves (``x-title-zh``, ``x-enum-labels``).
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, g, request, session

from .services import now

LANGUAGES = ("zh", "en")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MESSAGES: dict[str, tuple[str, str]] = {
    "app.name": ("网格闭环", "Gridloop"),
    "app.tagline": ("沈阳社区问题闭环处置", "Closed-loop handling of community issues, Shenyang"),
    "lang.switch": ("English", "中文"),
    # navigation and account
    "nav.mine": ("我的任务", "My tasks"),
    "nav.claimable": ("待领取", "Claimable"),
    "nav.area": ("辖区全部", "All in my area"),
    "nav.overdue": ("超期", "Overdue"),
    "nav.unassignable": ("无人可办", "Unassignable"),
    "nav.cases": ("案件", "Cases"),
    "nav.report": ("上报问题", "Report an issue"),
    "nav.designer": ("流程定义", "Process definitions"),
    "nav.start": ("发起流程", "Start a process"),
    "start.none": ("没有您可以发起的流程", "There is no process you may start"),
    "nav.incidents": ("流程异常", "Incidents"),
    "nav.notifications": ("通知设置", "Notifications"),
    "notify.title": ("通知设置", "Notification settings"),
    "notify.hint": ("选择哪些事件以何种方式通知您。", "Choose which events you are told about, and how."),
    "notify.email": ("电子邮箱", "Email address"),
    "notify.bad_email": ("请输入有效的电子邮箱地址", "Enter a valid email address"),
    "notify.language": ("邮件语言", "Language of emails"),
    "notify.event": ("事件", "Event"),
    "notify.event.task_offered": ("有可由我领取的任务", "A task is offered to me"),
    "notify.event.task_assigned": ("有任务指派给我", "A task is assigned to me"),
    "notify.event.overdue": ("任务超期", "Work is overdue"),
    "notify.event.urged": ("任务被催办", "A task is urged"),
    "notify.event.escalated": ("案件升级", "A case is escalated"),
    "notify.event.case_closed": ("案件结案", "A case is closed"),
    "notify.channel.email": ("邮件", "Email"),
    "notify.channel.webhook": ("Webhook", "Webhook"),
    "notify.webhook_hint": ("Webhook 地址由管理员配置；没有为您配置的 Webhook 时，该列不起作用。",
                            "Webhook addresses are set up by an administrator; without one for you, that column has no effect."),
    "notify.save": ("保存", "Save"),
    "deliveries.title": ("发送失败的通知", "Failed notification deliveries"),
    "deliveries.hint": ("多次重试后仍未送达的邮件和 Webhook。重试后由后台任务重新发送。", "Emails and webhook posts that failed through every retry. A retry makes the background worker send them again."),
    "deliveries.none": ("没有发送失败的通知。", "No failed deliveries."),
    "deliveries.event": ("事件", "Event"),
    "deliveries.channel": ("渠道", "Channel"),
    "deliveries.target": ("收件人 / 地址", "Recipient / address"),
    "deliveries.case": ("案件", "Case"),
    "deliveries.attempts": ("尝试次数", "Attempts"),
    "deliveries.error": ("最后的错误", "Last error"),
    "deliveries.created": ("生成时间", "Created"),
    "deliveries.retry": ("重试", "Retry"),
    "deliveries.retried": ("通知 {id} 将重新发送", "Delivery {id} will be sent again"),
    "nav.deliveries": ("发送失败", "Failed deliveries"),
    "assign.title": ("指派", "Assign"),
    "assign.hint": ("指派给可办理此任务的人员；对方将收到通知。", "Assign to someone the task is offered to; she is told."),
    "assign.to": ("指派给", "Assign to"),
    "assign.submit": ("指派", "Assign"),
    "assign.done": ("任务「{name}」已指派给 {user}", "“{name}” assigned to {user}"),
    "assign.not_offered": ("此人不能办理该任务", "This task is not offered to that user"),
    "notify.saved": ("通知设置已保存", "Notification settings saved"),
    "auth.sign_in": ("登录", "Sign in"),
    "auth.sign_out": ("退出", "Sign out"),
    "auth.username": ("用户名", "Username"),
    "auth.password": ("密码", "Password"),
    "auth.failed": ("用户名或密码错误", "Wrong username or password"),
    "auth.throttled": ("登录失败次数过多，请 {seconds} 秒后再试", "Too many failed sign-ins: try again in {seconds} seconds"),
    "auth.required": ("请先登录", "Please sign in first"),
    "auth.signed_out": ("已退出登录", "Signed out"),
    # inbox
    "inbox.title.mine": ("我的任务", "My tasks"),
    "inbox.title.claimable": ("待领取任务", "Tasks I can claim"),
    "inbox.title.area": ("辖区全部任务", "All open tasks in my area"),
    "inbox.title.overdue": ("辖区超期任务", "Overdue tasks in my area"),
    "inbox.title.unassignable": ("无人可办的任务", "Tasks nobody can take"),
    "inbox.unassignable_hint": ("这些任务所属泳道的角色或用户组没有在岗成员，任何人都无法领取。请管理员为该组添加成员，或由流程设计人员重新映射泳道后部署。",
                                "These tasks are offered to a role or group without any active member, so nobody can take them. "
                                "An administrator can add members to the group, or a designer can map the lane and deploy again."),
    "inbox.overdue_hint": ("已被时限标记超期或已过截止时间的待办任务，截止时间最早的在前。",
                           "Open tasks a time limit marked overdue or whose due time has passed, oldest deadline first."),
    "inbox.empty": ("没有任务", "No tasks"),
    "inbox.total": ("共 {total} 项", "{total} in all"),
    "inbox.shown": ("显示第 {first}–{last} 条，共 {total} 条", "Showing {first}–{last} of {total}"),
    "filter.unit": ("网格/社区", "Grid / community"),
    "filter.unit_code": ("网格或社区编码", "Grid or community code"),
    "filter.due": ("期限", "Due"),
    "filter.due.overdue": ("已超期", "Overdue"),
    "filter.due.today": ("今天到期", "Due today"),
    "filter.due.week": ("本周到期", "Due this week"),
    "filter.search": ("搜索", "Search"),
    "filter.search_hint": ("案件编号或文字", "Case number or text"),
    "filter.sort": ("排序", "Sort"),
    "sort.due": ("截止时间最早在前", "Soonest deadline first"),
    "sort.-due": ("截止时间最晚在前", "Latest deadline first"),
    "sort.created": ("最早生成在前", "Oldest first"),
    "sort.-created": ("最新生成在前", "Newest first"),
    "sort.priority": ("优先级高在前", "Highest priority first"),
    "filters.title": ("我的视图", "My views"),
    "filters.name": ("视图名称", "View name"),
    "filters.save": ("保存当前筛选为视图", "Save this view"),
    "filters.rename": ("重命名", "Rename"),
    "filters.delete": ("删除视图", "Delete view"),
    "filters.saved": ("已保存视图「{name}」", "View “{name}” saved"),
    "filters.renamed": ("视图已重命名为「{name}」", "View renamed to “{name}”"),
    "filters.deleted": ("视图已删除", "View deleted"),
    "filters.not_saved": ("视图未保存：{reason}", "View not saved: {reason}"),
    "filters.name_taken": ("您已有同名视图", "you already have a view of that name"),
    "filters.bad_name": ("名称须为 1–80 个字符", "its name must be 1 to 80 characters"),
    "filters.too_many": ("视图已达上限，请先删除一个", "you have as many views as allowed; delete one first"),
    "filter.category": ("类别", "Category"),
    "filter.department": ("部门", "Department"),
    "filter.source": ("来源", "Source"),
    "filter.stage": ("阶段", "Stage"),
    "filter.grid": ("网格编码", "Grid code"),
    "filter.status": ("状态", "Status"),
    "filter.q": ("编号或标题", "Number or title"),
    "filter.any": ("全部", "Any"),
    "filter.apply": ("筛选", "Filter"),
    "filter.reset": ("清除", "Reset"),
    "page.prev": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
    "page.of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    # task columns and actions
    "task.due": ("截止时间", "Due"),
    "task.task": ("任务", "Task"),
    "task.case": ("案件", "Case"),
    "task.stage": ("阶段", "Stage"),
    "task.unit": ("网格/单位", "Grid / unit"),
    "task.role": ("角色", "Role"),
    "task.holder": ("办理人", "Held by"),
    "task.overdue": ("已超时", "Overdue"),
    "task.no_due": ("无时限", "No deadline"),
    "task.unassigned": ("未领取", "Unclaimed"),
    "task.open": ("办理", "Open"),
    "task.claim": ("领取", "Claim"),
    "task.report_in": ("报到", "Report in"),
    "task.unclaim": ("退回待领取", "Unclaim"),
    "task.unclaim_hint": ("放回待领取：任务回到{role}的待领取列表{unit}，由其中任何一人重新领取",
                          "Put back: the task returns to the claimable queue of {role}{unit}, for any of them to claim"),
    "task.unclaim_why.holder": ("您是此任务的办理人，暂时无法办理时可以放回。",
                                "You hold this task: put it back if you cannot do it now."),
    "task.unclaim_why.supervisor": ("您是本辖区的督办人员：办理人无法继续时，可以把任务收回，由他人领取。",
                                    "You supervise this area: when its holder cannot go on, you may put the task "
                                    "back for someone else to claim."),
    "task.case_due_carries": ("本级会商时限在案件升级到本级时重新计算；案件办结时限 {at} 不随升级重置。",
                              "This level's deadline was set afresh when the case reached it; the case's deadline, "
                              "{at}, does not restart."),
    "task.initiator": ("发起人", "the initiator"),
    "task.view": ("查看", "View"),
    "task.complete": ("提交", "Complete"),
    "task.claimed": ("已领取任务「{name}」", "Claimed “{name}”"),
    "task.unclaimed": ("已放回待领取队列", "Put back into the queue"),
    "task.completed": ("已完成任务「{name}」", "Completed “{name}”"),
    "task.read_only": ("此任务不可由您办理。", "You cannot act on this task."),
    "photos.title": ("照片", "Photos"),
    "photos.add": ("照片(JPEG 或 PNG，最多 {n} 张；仅保留拍摄时间和地点)", "Photos (JPEG or PNG, at most {n}; only when and where they were taken are kept)"),
    "photos.taken": ("拍摄于", "taken"),
    "photos.kind.report": ("上报", "Reported"),
    "photos.kind.resolution": ("处置", "Resolution"),
    "photos.kind.verification": ("核查", "Verification"),
    "photos.none": ("暂无照片。", "No photos yet."),
    "photos.this_task": ("本任务的照片", "Photos of this task"),
    "photos.of_resolution": ("处置照片", "Photos of the resolution"),
    "task.submitted_data": ("提交内容", "Submitted data"),
    "task.claim_first": ("可直接办理，或先领取以免他人重复处理。",
                         "You may complete it directly, or claim it first so nobody else takes it."),
    "task.marked_overdue": ("已标记超期", "Marked overdue"),
    "task.marked_overdue_at": ("时限到期，{at} 标记为超期", "A time limit marked it overdue at {at}"),
    "task.urged": ("已催办 ×{n}", "urged ×{n}"),
    "task.last_urged": ("最近催办：{at}", "Last urged {at}"),
    # urging (督办催办)
    "urge.button": ("催办", "Urge"),
    "urge.title": ("督办催办", "Urge this task"),
    "urge.note": ("催办说明(可选)", "Note (optional)"),
    "urge.hint": ("办理人会在任务列表和任务页看到催办标记和说明。",
                  "The holder sees the mark and your note in the inbox and on this page."),
    "urge.done": ("已催办任务「{name}」(第 {n} 次)", "Urged “{name}” (no. {n})"),
    "urge.note_too_long": ("催办说明最多 {n} 字", "The note may have at most {n} characters"),
    "urge.history": ("催办记录", "Urged"),
    # exceptions with approval (延期 挂账 作废 合并)
    "exception.extension_title": ("申请延期", "Ask for an extension"),
    "exception.extension_hint": ("新的办理时限由上一级审批；批准后任务和案件的时限随之顺延。",
                                 "The level above approves the new due time; once approved, the task's and the "
                                 "case's due times move."),
    "exception.until": ("延期至", "New due time"),
    "exception.reason": ("申请理由", "Reason"),
    "exception.submit": ("提交申请", "Submit the request"),
    "exception.requested": ("已提交{kind}申请，等待审批", "Your {kind} request waits for approval"),
    "exception.refused_at_once": ("{kind}申请未获批准：{note}", "{kind} request refused: {note}"),
    "exception.bad_until": ("请填写有效的日期和时间", "Enter a valid date and time"),
    "exception.suspension_title": ("申请挂账", "Ask to suspend the case"),
    "exception.suspension_hint": ("挂账期间案件停止计时，到复核日期由上一级复核；恢复后各时限按挂账时长顺延。",
                                  "While suspended the case's clock stops; the level above reviews it on the "
                                  "review date, and on resuming every due time moves by the time it stood still."),
    "exception.review_date": ("复核日期", "Review date"),
    "exception.case_title": ("作废或合并", "Void or merge"),
    "exception.case_hint": ("误报案件可申请作废；重复案件可申请合并到原案件，原案结案时一并回访。均由街道审批。",
                            "A case reported in error may be voided; a duplicate merged into its original, whose "
                            "closing calls back every reporter. The street approves either."),
    "exception.void": ("申请作废", "Ask to void"),
    "exception.merge": ("申请合并", "Ask to merge"),
    "exception.original": ("原案件编号", "Original case number"),
    "exception.merged_into": ("已合并到案件 {number}", "Merged into case {number}"),
    "exception.merged_from": ("合并到本案的重复案件", "Duplicates merged into this case"),
    "exception.merged_at": ("合并时间", "Merged"),
    "exception.callback": ("回访", "Callback"),
    "exception.callback_after": ("本案结案后回访", "When this case closes"),
    "exception.callback_waiting": ("待回访", "Waiting for the reporter"),
    "exception.suspended": ("挂账中(自 {at})", "Suspended since {at}"),
    # forms
    "form.required": ("必填", "required"),
    "form.is_required": ("此项必填", "This field is required"),
    "form.errors": ("请更正标出的字段", "Please correct the marked fields"),
    "form.yes": ("是", "Yes"),
    "form.no": ("否", "No"),
    "form.choose": ("请选择", "Choose…"),
    "form.one_per_line": ("每行一项", "One per line"),
    # what came before a task (engine/casebrief.py)
    "brief.title": ("此前经过", "What came before"),
    "brief.recent": ("最近经过", "Recent history"),
    "brief.full_timeline": ("完整办理记录", "Full timeline"),
    "brief.by": ("{name} · {at}", "{name} · {at}"),
    "brief.system": ("系统", "The system"),
    "brief.no_text": ("(未填写说明)", "(no text given)"),
    "brief.kind.resolution": ("处置情况", "Resolution"),
    "brief.kind.complaint": ("上报人不满意的意见", "The reporter's complaint"),
    "brief.kind.escalation": ("提请会商的理由", "Why it was escalated"),
    "brief.kind.return": ("退单理由", "Why it was returned"),
    "brief.kind.verification": ("核查不通过的说明", "Why verification failed"),
    "brief.kind.refusal": ("不同意退单的意见", "Why the return was refused"),
    # cases
    "case.title": ("案件", "Case"),
    "case.list": ("案件列表", "Cases"),
    "case.empty": ("没有案件", "No cases"),
    "case.number": ("编号", "Number"),
    "case.subject": ("标题", "Title"),
    "case.category": ("类别", "Category"),
    "case.urgency": ("紧急程度", "Urgency"),
    "case.source": ("来源", "Source"),
    "case.grid": ("网格", "Grid"),
    "case.address": ("地址", "Address"),
    "case.reporter": ("上报人", "Reporter"),
    "case.department": ("责任部门", "Responsible department"),
    "case.stage": ("当前阶段", "Current stage"),
    "case.status": ("状态", "Status"),
    "case.escalation": ("会商层级", "Consultation level"),
    "case.rework": ("返工次数", "Rework"),
    "case.returns": ("退回次数", "Returns"),
    "case.reported_at": ("上报时间", "Reported"),
    "case.closed_at": ("结案时间", "Closed"),
    "case.due_at": ("办结时限", "Due"),
    "case.on_time": ("按期办结", "closed on time"),
    "case.late": ("超期办结", "closed late"),
    "case.extended": ("已延期 {n} 次", "extended {n}×"),
    "case.overdue_since": ("超期标记于", "overdue since"),
    # the figures page
    "nav.dashboard": ("统计", "Figures"),
    "dashboard.p90": ("90% 分位", "P90"),
    "dashboard.title": ("评价统计", "Figures"),
    "dashboard.from": ("自", "From"),
    "dashboard.to": ("至", "To"),
    "dashboard.area": ("区域编码", "Area code"),
    "dashboard.group_by": ("分组", "Group by"),
    "dashboard.figure": ("指标", "Figure"),
    "dashboard.value": ("数值", "Value"),
    "dashboard.change": ("较上期", "vs previous period"),
    "dashboard.points": ("个百分点", " pp"),
    "dashboard.numerator": ("分子", "Numerator"),
    "dashboard.denominator": ("分母", "Denominator"),
    "dashboard.max_level": ("最高 {level} 级", "highest level {level}"),
    "dashboard.by": ("按{grouping}", "By {grouping}"),
    "dashboard.rank": ("排名", "Rank"),
    "dashboard.empty": ("本期没有数据", "No data in this period"),
    "dashboard.back": ("返回统计", "Back to the figures"),
    "dashboard.chart.trend": ("各月结案量与按期结案率、满意率", "Closed cases per month, on-time closure and satisfaction rates"),
    "dashboard.chart.groups": ("综合成绩", "Composite score"),
    "dashboard.chart.backlog": ("超期未结案件(按超期时长)", "Overdue open cases by time past the deadline"),
    "figure.response_rate": ("响应率", "Response rate"),
    "figure.resolution_rate": ("解决率", "Resolution rate"),
    "figure.satisfaction_rate": ("满意率", "Satisfaction rate"),
    "figure.composite_score": ("综合成绩", "Composite score"),
    "figure.closure_rate": ("结案率", "Closure rate"),
    "figure.on_time_closure_rate": ("按期结案率", "On-time closure rate"),
    "figure.rework_rate": ("返工率", "Rework rate"),
    "figure.return_rate": ("退回率", "Return rate"),
    "figure.escalation_rate": ("上报会商率", "Escalation rate"),
    "figure.extension_rate": ("延期率", "Extension rate"),
    "figure.suspension_rate": ("挂账率", "Suspension rate"),
    "figure.void_rate": ("作废率", "Void rate"),
    "figure.merge_rate": ("合并率", "Merge rate"),
    "figure.report_in_minutes": ("报到用时(分钟,中位数)", "Report-in time (minutes, median)"),
    "figure.close_hours": ("办结用时(小时,中位数)", "Time to close (hours, median)"),
    "figure.overdue_open": ("超期未结率", "Overdue open cases"),
    "grouping.district": ("区县", "District"),
    "grouping.street": ("街道", "Street"),
    "grouping.community": ("社区", "Community"),
    "grouping.grid": ("网格", "Grid"),
    "grouping.department": ("部门", "Department"),
    "grouping.category": ("类别", "Category"),
    "grouping.source": ("来源", "Source"),
    "band.lt_1d": ("不足1天", "< 1 day"),
    "band.1d_3d": ("1-3天", "1-3 days"),
    "band.3d_7d": ("3-7天", "3-7 days"),
    "band.ge_7d": ("7天以上", "7 days or more"),
    "case.satisfaction": ("满意度", "Satisfaction"),
    "case.open_tasks": ("待办任务", "Open tasks"),
    "case.no_open_tasks": ("没有待办任务", "No open tasks"),
    "case.timeline": ("办理记录", "Timeline"),
    "case.feedback_link": ("回访评价链接", "Feedback link"),
    "case.feedback_hint": ("发给上报人，由其在线评价(仅可使用一次)。",
                           "Send it to the reporter to score the result online (works once)."),
    "case.reported": ("已上报，编号 {number}", "Reported as {number}"),
    "report.title": ("上报问题", "Report an issue"),
    "report.submit": ("上报", "Report"),
    "report.grid": ("网格", "Grid"),
    # feedback (public)
    "feedback.title": ("办理结果评价", "How did we do?"),
    "feedback.intro": ("您反映的问题(编号 {number}，{category})已办理，请告诉我们结果如何。",
                       "The problem you reported (no. {number}, {category}) has been dealt with. Please tell us how it went."),
    "feedback.what_was_done": ("处理情况", "What was done"),
    "feedback.submit": ("提交评价", "Send"),
    "feedback.thanks": ("感谢您的评价！", "Thank you for your feedback!"),
    "feedback.used": ("此评价链接已使用过，感谢您的反馈。", "This feedback link has already been used. Thank you."),
    "feedback.expired": ("此评价链接已失效。", "This feedback link has expired."),
    "feedback.gone": ("此评价链接已失效或已被新的链接取代。如问题仍未解决，请重新上报或拨打12345。",
                      "This feedback link is no longer valid, or a newer one replaced it. If the problem is not "
                      "solved, please report it again or call 12345."),
    # residents' public pages
    "public.title": ("问题上报", "Report a problem"),
    "public.place": ("地点", "Place"),
    "public.choose_place": ("请选择您所在的小区", "Choose your residential compound"),
    "public.category": ("问题类别", "What kind of problem?"),
    "public.choose_category": ("请选择", "Choose one"),
    "public.description": ("问题描述", "Describe the problem"),
    "public.detail": ("具体位置(如单元、楼层)", "Where exactly (entrance, floor)"),
    "public.name": ("您的称呼(选填)", "Your name (optional)"),
    "public.phone": ("联系电话(选填，便于回访)", "Phone (optional, for a call back)"),
    "public.privacy": ("您的姓名和电话仅用于办理和回访，不会公开。", "Your name and phone are used only to handle the problem and call you back; they are never published."),
    "public.submit": ("提交", "Send"),
    "public.reported": ("已收到您的上报，编号 {number}。请保存本页链接以查询办理进度。",
                        "Thank you: your report number is {number}. Keep this page's link to follow it."),
    "public.throttled": ("提交过于频繁，请 {seconds} 秒后再试。", "Too many reports from your connection: please try again in {seconds} seconds."),
    "open311.notice": ("已收到，编号 {number}。办理进度：{url}", "Received as {number}. Follow it at {url}"),
    "status.title": ("办理进度", "Progress of your report"),
    "status.number": ("编号", "Number"),
    "status.category": ("类别", "Kind of problem"),
    "status.reported_at": ("上报时间", "Reported"),
    "status.stage": ("当前状态", "Status"),
    "status.due": ("承诺办结时间", "To be done by"),
    "status.closed_at": ("办结时间", "Done on"),
    "status.stage.received": ("已受理", "Received"),
    "status.stage.in_progress": ("处理中", "Being dealt with"),
    "status.stage.checking": ("核查中", "Being checked"),
    "status.stage.awaiting_feedback": ("待您评价", "Waiting for your feedback"),
    "status.stage.done": ("已办结", "Done"),
    "status.stage.not_accepted": ("未受理", "Not taken up"),
    "status.explain.received": ("我们已收到您的上报，正在核实。", "We have your report and are checking it."),
    "status.explain.in_progress": ("问题已交由负责单位处理。", "The people responsible are dealing with it."),
    "status.explain.checking": ("处理已完成，网格员正在现场核查。", "The work is done; your grid worker is checking it on site."),
    "status.explain.awaiting_feedback": ("处理已完成，请告诉我们您是否满意。", "The work is done: please tell us whether you are satisfied."),
    "status.explain.done": ("此问题已办结，感谢您的参与。", "This problem is closed. Thank you for reporting it."),
    "status.explain.not_accepted": ("此上报未被受理(例如重复上报或不属于受理范围)。如有疑问请拨打12345。",
                                    "This report was not taken up (for example a duplicate, or not ours to handle). Call 12345 with any questions."),
    "status.what_was_done": ("处理情况", "What was done"),
    "status.give_feedback": ("评价办理结果", "Tell us how it went"),
    "status.keep_link": ("请保存此链接，随时查询办理进度：", "Keep this link to check on your report at any time:"),
    "status.gone": ("找不到这个查询链接，请检查链接是否完整。", "We cannot find this status link: please check that it is complete."),
    "nav.qr": ("上报二维码", "QR codes"),
    "qr.communities": ("选择社区，打印其小区和楼栋的上报二维码。", "Choose a community to print the report QR codes of its compounds and buildings."),
    "qr.title": ("居民上报二维码", "Residents' QR codes"),
    "qr.hint": ("打印后张贴在小区和楼栋：居民扫码即可上报问题，无需注册。", "Print and post them in the compounds and buildings: residents scan to report a problem, no account needed."),
    "qr.download_pdf": ("下载 PDF", "Download PDF"),
    "qr.download_png": ("下载 PNG", "Download PNG"),
    "qr.none": ("该社区还没有登记小区或楼栋。", "No compounds or buildings are registered in this community."),
    "qr.scan": ("扫码上报问题", "Scan to report a problem"),
    # incidents
    "incident.title": ("流程异常", "Incidents"),
    "incident.open": ("待处理", "Open"),
    "incident.resolved_tab": ("已解决", "Resolved"),
    "incident.instance": ("流程实例", "Instance"),
    "incident.case": ("案件", "case"),
    "incident.kind": ("类型", "Kind"),
    "incident.kind.budget": ("脚本超出资源限额", "Script over its budget"),
    "incident.kind.stuck": ("流程停滞", "Process stalled"),
    "incident.kind.timer": ("定时器反复失败", "Timers keep failing"),
    "incident.element": ("流程元素", "Element"),
    "incident.message": ("原因", "Reason"),
    "incident.attempts": ("次数", "Attempts"),
    "incident.since": ("发生时间", "Since"),
    "incident.retry": ("重试", "Retry"),
    "incident.empty": ("没有流程异常", "No incidents"),
    "incident.resolved": ("异常 {id} 已解决，流程继续运行", "Incident {id} resolved: the instance moved on"),
    "incident.retried": ("异常 {id} 已重试", "Incident {id} retried"),
    "incident.failed_again": ("重试仍然失败：{message}", "The retry failed again: {message}"),
    "error.incident": ("流程已转为异常", "The process became an incident"),
    # designer
    "diagram.title": ("流程图", "Process diagram"),
    "diagram.decision": ("决策表", "Decision table"),
    "diagram.completed": ("已完成", "Completed"),
    "diagram.active": ("进行中", "Active"),
    "diagram.overdue": ("超期", "Overdue"),
    "diagram.incident": ("异常", "Incident"),
    "diagram.click_hint": ("点击环节查看其记录", "click an element to see its history"),
    "diagram.no_events": ("该环节没有记录", "No events for this element"),
    "diagram.failed": ("流程图无法显示", "The diagram could not be shown"),
    "calendar.title": ("节假日安排", "Holiday calendar"),
    "calendar.published": ("已有国务院节假日安排通知的年份", "Years with a State Council holiday notice"),
    "calendar.load": ("载入节假日安排通知", "Load a holiday notice"),
    "calendar.load_hint": ("一年一份 JSON 文件(格式见 docs/operations.md)。载入后各进程按它计算时限，该年尚在办理中的暂算时限随即重算，每项变动记入案件历史。",
                           "One JSON file per year (its shape: docs/operations.md). Every process counts on it from then on, "
                           "and the provisional due times of that year that open cases wait on are counted again, each move "
                           "recorded in the case's history."),
    "calendar.file": ("通知文件", "Notice file"),
    "calendar.load_button": ("载入", "Load"),
    "calendar.loaded": ("{year} 年节假日安排已载入，{n} 个时限已重算", "The {year} notice is loaded; {n} due time(s) moved"),
    "calendar.notices": ("已载入的通知", "Notices loaded"),
    "calendar.no_notices": ("尚未载入通知(使用随系统提供的日历)", "No notice loaded (the shipped calendar applies)"),
    "calendar.year": ("年份", "Year"),
    "calendar.source": ("通知", "Notice"),
    "calendar.loaded_by": ("载入人", "Loaded by"),
    "calendar.loaded_at": ("载入时间", "Loaded at"),
    "calendar.system": ("系统", "the system"),
    "calendar.provisional": ("暂算的时限", "Provisional due times"),
    "calendar.provisional_hint": ("这些时限所在年份尚无节假日安排通知，暂按法定节假日计算；载入该年通知后自动重算。",
                                  "Their year has no holiday notice yet, so they count statutory holidays alone; loading "
                                  "that year's notice counts them again."),
    "calendar.no_provisional": ("没有暂算的时限", "No provisional due times"),
    "calendar.case": ("案件", "Case"),
    "calendar.limit": ("时限", "Limit"),
    "calendar.due": ("暂定到期", "Provisionally due"),
    "designer.title": ("已部署的流程定义", "Deployed process definitions"),
    "designer.key": ("流程标识", "Key"),
    "designer.name": ("名称", "Name"),
    "designer.version": ("版本", "Version"),
    "designer.deployed": ("部署时间", "Deployed"),
    "designer.by": ("部署人", "By"),
    "designer.forms": ("表单", "Forms"),
    "designer.case_process": ("案件流程", "Case process"),
    "designer.empty": ("尚未部署流程", "Nothing deployed yet"),
    "designer.new": ("新建流程", "New process"),
    "designer.running": ("运行中实例", "Running"),
    "designer.versions_count": ("共 {n} 版", "{n} versions"),
    "designer.edit": ("编辑", "Edit"),
    "designer.start": ("发起", "Start"),
    "designer.start_title": ("发起流程 {process}", "Start {process}"),
    "designer.started": ("已发起 {process}（实例 #{id}）", "Started {process} (instance #{id})"),
    "designer.versions": ("版本", "Versions"),
    "designer.hash": ("内容摘要", "Content hash"),
    "designer.show_diagram": ("流程图", "Diagram"),
    "designer.download": ("下载 XML", "Download XML"),
    "designer.diagram_of": ("第 {version} 版流程图", "Diagram of version {version}"),
    "designer.diff": ("版本比较", "Compare versions"),
    "designer.old": ("旧版本", "Old"),
    "designer.new_version": ("新版本", "New"),
    "designer.compare": ("比较", "Compare"),
    "designer.no_changes": ("两个版本的环节相同", "The two versions have the same elements"),
    "designer.added": ("新增", "Added"),
    "designer.removed": ("删除", "Removed"),
    "designer.changed": ("修改", "Changed"),
    "designer.migrate": ("迁移运行中实例", "Migrate running instances"),
    "designer.migrate_hint": ("先试运行：逐个列出能否迁移及原因；迁移时每个实例单独一个事务，并记入其历史。",
                              "Dry run first: it lists each instance as able to move or why not; the move is one "
                              "transaction per instance, recorded in its history."),
    "designer.from": ("从", "From"),
    "designer.to": ("到", "To"),
    "designer.dry_run": ("试运行", "Dry run"),
    "designer.move": ("迁移", "Move"),
    "designer.dry_run_result": ("试运行结果", "Dry run"),
    "designer.move_result": ("迁移结果", "Moved"),
    "designer.instance": ("实例", "Instance"),
    "designer.result": ("结果", "Result"),
    "designer.can_move": ("可以迁移", "can move"),
    "designer.moved": ("已迁移", "moved"),
    "designer.no_instances": ("该版本没有运行中的实例", "No running instances on that version"),
    "modeler.title": ("流程建模", "Process modeler"),
    "modeler.based_on": ("基于第 {version} 版", "based on version {version}"),
    "modeler.new_hint": ("新流程：先在右侧修改流程标识（点击空白处）", "a new process: set its key first (click the empty canvas)"),
    "modeler.no_assets": ("建模器未安装（运行 make assets）", "The modeler is not installed (run make assets)"),
    "modeler.check": ("检查", "Check"),
    "modeler.deploy": ("部署", "Deploy"),
    "modeler.clean": ("检查通过，没有问题", "Checked: no problems"),
    "modeler.problems": ("发现 {n} 个问题", "{n} problem(s) found"),
    "modeler.refused": ("未部署：请先修正错误", "Not deployed: fix the errors first"),
    "modeler.deployed": ("已部署 {key} 第 {version} 版", "Deployed {key} version {version}"),
    "modeler.unchanged": ("内容未变，仍是 {key} 第 {version} 版", "Nothing changed: still {key} version {version}"),
    "modeler.failed": ("操作失败：", "Failed:"),
    "modeler.element": ("属性", "Properties"),
    "modeler.add_dmn": ("新建决策表", "New decision table"),
    # the properties panel's Gridloop group (web/modeler/gridloop-provider.js)
    "panel.group": ("网格闭环", "Gridloop"),
    "panel.lane": ("泳道（角色）", "Lane (role)"),
    "panel.no_lane": ("无泳道：交给发起人", "No lane: offered to the starter"),
    "panel.role": ("角色", "Role"),
    "panel.nameZh": ("中文名称", "Chinese name"),
    "panel.formJsonSchemaFilename": ("表单文件", "Form file"),
    "panel.startFormJsonSchemaFilename": ("发起表单文件", "Start form file"),
    "panel.form_json": ("表单 {form}（JSON Schema）", "Form {form} (JSON Schema)"),
    "panel.bad_form": ("表单文件名形如 name.json", "A form file is named like name.json"),
    "panel.dueIn": ("时限（表达式）", "Time limit (expression)"),
    "panel.candidateOrgUnit": ("候选网格/单位（表达式）", "Candidate org unit (expression)"),
    "panel.candidateDepartment": ("候选部门（表达式）", "Candidate department (expression)"),
    "panel.stage": ("案件阶段", "Case stage"),
    "panel.priority": ("优先级（表达式）", "Priority (expression)"),
    "panel.starters": ("可发起角色", "Starters (roles)"),
    "panel.laneMap": ("泳道映射", "Lane map"),
    "panel.senders": ("可发送角色", "Senders (roles)"),
    "panel.timeDuration": ("时长（表达式）", "Duration (expression)"),
    "panel.timeDate": ("日期（表达式）", "Date (expression)"),
    "panel.timeCycle": ("周期（表达式）", "Cycle (expression)"),
    "panel.marksOverdue": ("超时标记", "Marks overdue"),
    "panel.overdue_none": ("不标记", "Nothing"),
    "panel.overdue_always": ("总是标记任务超期", "The task, always"),
    "panel.overdue_unclaimed": ("仅未领取时标记", "The task, while unclaimed"),
    "panel.overdue_case": ("标记案件超期", "The case"),
    "panel.hint.lane": ("任务交给所在泳道的角色；选择泳道即把任务移入该泳道",
                        "The task is offered to its lane's role; choosing a lane moves the task into it"),
    "panel.hint.role": ("泳道名即候选角色（或在流程的泳道映射中映射）",
                        "A lane's name is the role its tasks are offered to (or mapped in the process's lane map)"),
    "panel.hint.dueIn": ("如 \"5WD\"（5 个工作日）、\"8WH\"、\"PT2H\" 或变量名 handle_limit",
                         "e.g. \"5WD\" (5 working days), \"8WH\", \"PT2H\" or a variable such as handle_limit"),
    "panel.hint.candidateOrgUnit": ("表达式，如 grid 或 community", "An expression, e.g. grid or community"),
    "panel.hint.candidateDepartment": ("表达式，如 department", "An expression, e.g. department"),
    "panel.hint.starters": ("逗号分隔的角色，如 coordinator, supervisor",
                            "Roles separated by commas, e.g. coordinator, supervisor"),
    "panel.hint.laneMap": ("泳道=角色, …", "LANE=ROLE, …"),
    "panel.hint.timer": ("表达式，如 \"PT2H\" 或 handle_limit", "An expression, e.g. \"PT2H\" or handle_limit"),
    "panel.hint.marksOverdue": ("计时器触发时标记什么为超期", "What the timer marks overdue when it fires"),
    "panel.hint.formJsonSchemaFilename": ("尚不存在的表单，在下方编辑其 JSON 时新建",
                                          "A form that does not exist yet is created when you edit its JSON below"),
    # Try it (engine/trial.py)
    "trial.try": ("试运行", "Try it"),
    "trial.title": ("试运行草稿", "Try the draft"),
    "trial.hint": ("一次性的，不保存：不产生案件、待办、统计或历史",
                   "throw-away: no case, inbox, figure or history sees it"),
    "trial.start_data": ("发起数据（JSON）", "Start data (JSON)"),
    "trial.act_as": ("以此角色办理", "Act as"),
    "trial.complete_as": ("以 {role} 身份完成", "Complete as {role}"),
    "trial.offered": ("交给 {role}", "offered to {role}"),
    "trial.starter": ("发起人", "the starter"),
    "trial.running": ("进行中：{n} 个待办", "Running: {n} open task(s)"),
    "trial.completed": ("流程已结束", "The process has ended"),
    "trial.waiting": ("等待事件：{events}", "Waiting for: {events}"),
    "trial.wait": ("让时间流逝", "Let time pass"),
    "trial.wait_hint": ("如 PT4H、2WD：到期的计时器随之触发", "e.g. PT4H, 2WD: the timers then due fire"),
    "trial.waited": ("等待 {limit}：{fired}", "Waited {limit}: {fired}"),
    "trial.nothing_fired": ("无计时器触发", "no timer fired"),
    "trial.back": ("撤销上一步", "Undo last step"),
    "trial.restart": ("重新开始", "Start again"),
    "modeler.files": ("文件", "Files"),
    # errors (by engine error code or HTTP status)
    "error.title": ("出错了", "Something went wrong"),
    "error.back": ("返回", "Back"),
    "error.not_found": ("未找到", "Not found"),
    "error.forbidden": ("无权操作", "Not allowed"),
    "error.conflict": ("操作冲突", "Conflict"),
    "error.validation_error": ("输入有误", "Invalid input"),
    "error.process_error": ("流程执行出错", "The process failed"),
    "error.deploy_error": ("流程定义有误", "Invalid process definition"),
    "error.csrf": ("表单已过期或来源不明，请刷新页面后重试。",
                   "The form expired or did not come from this site; reload the page and try again."),
    "error.http": ("请求无法处理", "The request could not be handled"),
    "error.too_large": ("提交的内容过大", "What you sent is too large"),
    "error.too_large_hint": ("请缩短文字后重试（上限 {size}）。", "Please shorten it and try again (the limit is {size})."),
    "error.to_case": ("查看案件", "Open the case"),
    "error.to_inbox": ("回到我的任务", "Go to my tasks"),
    # refusals, by the engine's reason (engine/errors.py; web/refusals.py picks the variant)
    "refusal.not_found": ("您要找的内容不存在。", "What you were looking for does not exist."),
    "refusal.http_404": ("此页面不存在，链接可能有误。", "This page does not exist; the link may be wrong."),
    "refusal.http_405": ("此页面不支持这种操作。", "This page does not accept that request."),
    "refusal.task_not_found": ("此任务不存在，链接可能有误。", "This task does not exist; the link may be wrong."),
    "refusal.case_not_found": ("此案件不存在，链接可能有误。", "This case does not exist; the link may be wrong."),
    "refusal.forbidden": ("您无权进行此操作。", "You may not do this."),
    "refusal.task_not_yours": ("此任务不是您的，也没有派给您的角色、辖区或部门。",
                               "This task is not yours and not offered to your role, area or department."),
    "refusal.task_not_offered": ("此任务没有派给您的角色、辖区或部门，您不能办理。",
                                 "This task is not offered to your role, area or department; you cannot act on it."),
    "refusal.task_outside_area": ("此任务不在您的辖区。", "This task is outside your area."),
    "refusal.case_outside_area": ("此案件不在您的辖区。", "This case is outside your area."),
    "refusal.grid_outside_area": ("此网格不在您的辖区，不能为其上报。", "This grid is outside your area; you cannot report for it."),
    "refusal.supervisors_only": ("只有督办人员可以查看或进行此操作。", "Only supervisors may see or do this."),
    "refusal.unclaim_not_allowed": ("只有办理人本人或辖区督办人员可以把此任务退回待领取。",
                                    "Only its holder or a supervisor of the area may put this task back."),
    "refusal.conflict": ("此操作与案件的当前状态冲突，请刷新页面后重试。",
                         "This conflicts with the case as it is now; reload the page and try again."),
    "refusal.task_completed": ("此任务已于 {at} 办结，无需再次提交。", "This task was completed at {at}; nothing is left to submit."),
    "refusal.task_completed.by": ("此任务已由 {by} 于 {at} 办结，无需再次提交。",
                                  "{by} completed this task at {at}; nothing is left to submit."),
    "refusal.task_completed.you": ("您已于 {at} 办结此任务(可能是在另一个窗口)，无需再次提交。",
                                   "You completed this task at {at} (perhaps in another tab); nothing is left to submit."),
    "refusal.task_cancelled": ("此任务已取消，案件已进入下一步。", "This task was cancelled; the case has moved on."),
    "refusal.task_claimed": ("此任务已被他人领取。", "Someone else has claimed this task."),
    "refusal.task_claimed.by": ("此任务已由 {by} 领取。", "{by} has claimed this task."),
    "refusal.task_claimed_by_you": ("您已领取此任务，可以直接办理。", "You have claimed this task already; go ahead and complete it."),
    "refusal.task_not_claimed": ("此任务没有人领取，无需退回。", "Nobody has claimed this task; there is nothing to put back."),
    "refusal.task_changed": ("此任务刚被他人改动，请刷新页面后重试。", "Someone changed this task just now; reload the page and try again."),
    "refusal.validation_error": ("提交的内容有误。", "What you sent is not valid."),
    "refusal.process_error": ("流程执行出错，未保存任何更改。", "The process failed; nothing was saved."),
    "refusal.incident": ("流程执行出错，已转为异常待处理。", "The process failed and became an incident for someone to look at."),
    "refusal.deploy_error": ("流程定义有误，未部署。", "The process definition has errors; nothing was deployed."),
    # form field errors, by reason (engine/forms.py)
    "field.required": ("此项必填", "This field is required"),
    "field.not_allowed": ("不允许填写此项", "This field is not allowed"),
    "field.not_applicable": ("此结论下不填写此项", "Does not apply to this decision"),
    "field.max_length": ("最多 {limit} 个字符", "At most {limit} characters"),
    "field.min_length": ("至少 {limit} 个字符", "At least {limit} characters"),
    "field.max_items": ("最多 {limit} 项", "At most {limit} items"),
    "field.min_items": ("至少 {limit} 项", "At least {limit} items"),
    "field.minimum": ("不能小于 {limit}", "Must be at least {limit}"),
    "field.maximum": ("不能大于 {limit}", "Must be at most {limit}"),
    "field.enum": ("请从给定的选项中选择", "Choose one of the given options"),
    "field.type": ("填写的内容类型不对", "Not the right kind of value"),
    "field.pattern": ("格式不正确", "Not in the expected format"),
    "field.format": ("格式不正确", "Not in the expected format"),
    "field.unique": ("各项不能重复", "Items must not repeat"),
    "field.invalid": ("此项填写有误", "This value is not valid"),
    "field.photo_type": ("不是 JPEG 或 PNG 图片", "not a JPEG or PNG image"),
    "field.photo_damaged": ("图片已损坏或不完整", "a damaged or truncated image"),
    "field.photo_bytes": ("文件过大(最多 {limit} 字节)", "file too large (at most {limit} bytes)"),
    "field.photo_pixels": ("图片像素过多(最多 {limit} 像素)", "too many pixels (at most {limit})"),
    "field.photo_count": ("最多 {limit} 张照片", "at most {limit} photos"),
    "field.notice_no_date": ("{date} 不是有效日期", "{date} is not a date"),
    "field.notice_other_year": ("{date} 不在 {year} 年：一份通知只安排本年", "{date} is not in {year}: a notice covers its own year only"),
    "field.notice_overlap": ("{date} 已属于「{holiday}」：假期重叠", "{date} is already a day of {holiday}: holidays overlap"),
    "field.notice_gap": ("{date} 不紧接 {previous}：一个假期是按顺序连续的若干天",
                         "{date} does not follow {previous}: a holiday is a run of consecutive days, in order"),
    "field.notice_twice": ("{date} 重复列出", "{date} is listed twice"),
    "field.notice_holiday_workday": ("{date} 同时是「{holiday}」的假日：一天只能是假日或工作日",
                                     "{date} is also a day of {holiday}: a day is a holiday or a working day"),
    "field.notice_weekday": ("{date} 本来就是工作日：调休上班日应在周末",
                             "{date} is a working day already: a make-up working day falls on a weekend"),
    # relative times
    "time.in": ("{span}后到期", "due in {span}"),
    "time.ago": ("超时 {span}", "{span} overdue"),
    "time.minutes": ("{n} 分钟", "{n} min"),
    "time.hours": ("{n} 小时", "{n} h"),
    "time.days": ("{n} 天", "{n} d"),
    "time.now": ("刚到期", "due now"),
}

# Codes the engine stores, by kind: (zh, en). Unknown codes are shown as they are.
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    # The stages the engine gives a case it ends outside its process (engine/casestages.ENGINE_STAGES);
    # a process names its own in its BPMN (stageLabelsZh, stageLabelsEn: pages.field_labels).
    "stage": {"voided": ("已作废", "Voided"), "merged": ("已合并", "Merged")},
    "case_status": {"open": ("办理中", "Open"), "closed": ("已结案", "Closed"), "rejected": ("不予受理", "Rejected"),
                    "voided": ("已作废", "Voided"), "merged": ("已合并", "Merged")},
    # Values the process sets itself (no form offers them); the forms name the rest.
    "satisfaction": {"no_feedback": ("未获评价(回访超时)", "No feedback (limit passed)")},
    # Why an exception request was withdrawn (engine/exceptions.py: its case ended or was suspended).
    "case_ending": {"closed": ("已结案", "closed"), "rejected": ("不予受理", "rejected"), "voided": ("已作废", "voided"),
                    "merged": ("已合并", "merged"), "suspended": ("已挂账", "suspended"),
                    "task_ended": ("任务已结束", "its task ended")},
    "exception_kind": {"extension": ("延期", "Extension"), "suspension": ("挂账", "Suspension"),
                       "void": ("作废", "Void"), "merge": ("合并", "Merge")},
    "task_status": {"open": ("待领取", "Open"), "claimed": ("已领取", "Claimed"),
                    "completed": ("已完成", "Completed"), "cancelled": ("已取消", "Cancelled")},
    "role": {
        "acceptor": ("受理员", "Acceptor"), "grid_worker": ("专职网格员", "Grid worker"),
        "dept_liaison": ("专属网格员", "Department liaison"), "coordinator": ("协调员", "Coordinator"),
        "supervisor": ("督办", "Supervisor"), "designer": ("流程设计", "Process designer"),
        "party_branch": ("党支部", "Party branch"),
    },
    "escalation": {"0": ("网格", "Grid"), "1": ("社区", "Community"), "2": ("街道", "Street"),
                   "3": ("区", "District"), "4": ("市", "City")},
    # Why the process escalated a case by itself (the ``reason`` of an ``escalated`` event).
    "escalation_reason": {
        "department_timeout": ("责任部门超过时限未办结，系统自动提级会商",
                               "The department let its limit pass; the system escalated the case"),
    },
    # Decision outcomes recorded in the timeline (the forms' own labels name them on the forms).
    "outcome": {
        "accept": ("受理", "accepted"), "reject": ("不予受理", "rejected"), "resolved": ("办结", "resolved"),
        "whistle": ("吹哨", "whistled"), "escalate": ("提请会商", "escalated"), "return": ("退回", "returned"),
        "assign": ("明确责任部门", "assigned a department"), "passed": ("核查通过", "verified"),
        "failed": ("核查不通过", "failed verification"), "hand_down": ("交办", "handed down"),
        "approve": ("同意", "approved"), "refuse": ("不同意", "refused"),
    },
}

# Timeline sentences by the key of engine/timeline.py's items; placeholders are filled by ``describe``.
EVENTS: dict[str, tuple[str, str]] = {
    "instance_started": ("流程「{process}」启动（第 {version} 版）", "Process “{process}” (version {version}) started"),
    "case_reported": ("{actor} 上报案件 {number}", "{actor} reported case {number}"),
    "reported_via": ("居民免登录提交({ref})", "Submitted by a resident without an account ({ref})"),
    "reported_from": ("由流程 {key} #{instance_id} 发现并上报", "Found and reported by process {key} #{instance_id}"),
    "case_opened": ("{actor} 将发现的问题转为案件 {number}", "{actor} turned what was found into case {number}"),
    "photos_added": ("{actor} 添加照片 {count} 张", "{actor} added {count} photo(s)"),
    "task_created": ("生成任务「{name}」，由{role}办理{due}", "Task “{name}” created for {role}{due}"),
    "task_claimed": ("{actor} 领取任务「{name}」", "{actor} claimed “{name}”"),
    "task_reported_in": ("{actor} 报到「{name}」", "{actor} reported in for “{name}”"),
    "feedback_by_link": ("上报人通过回访链接评价{how}", "The reporter answered by the feedback link{how}"),
    "task_unclaimed": ("{actor} 放回任务「{name}」", "{actor} put “{name}” back into the queue"),
    "task_completed": ("{actor} 完成任务「{name}」{outcome}", "{actor} completed “{name}”{outcome}"),
    "task_cancelled": ("任务「{name}」已取消", "Task “{name}” cancelled"),
    "task_assigned": ("{actor} 将任务「{name}」指派给 {assignee}", "{actor} assigned “{name}” to {assignee}"),
    "task_urged": ("{actor} 催办任务「{name}」(第 {urge_count} 次)", "{actor} urged “{name}” (no. {urge_count})"),
    "task_overdue": ("任务「{name}」超过时限{limit}，已标记超期", "“{name}” passed its limit{limit} and is marked overdue"),
    "timer_fired": ("时限「{timer}」到期{on_task}", "Time limit “{timer}” reached{on_task}"),
    "case_overdue": ("案件超过办结时限，已标记超期", "The case passed its deadline and is marked overdue"),
    "due_extended": ("{actor} 批准延期：办结时限 {old_due} → {new_due}{note}",
                     "{actor} approved an extension: deadline {old_due} → {new_due}{note}"),
    "exception_requested": ("{actor} 申请{kind_name}{until}", "{actor} asked for {kind_name}{until}"),
    "exception_approved": ("{actor} 批准{kind_name}申请", "{actor} approved the {kind_name} request"),
    "exception_refused": ("{actor} 未批准{kind_name}申请", "{actor} refused the {kind_name} request"),
    "exception_withdrawn": ("{kind_name}申请已撤回(案件 {ended_case} {ended})",
                            "The {kind_name} request was withdrawn (case {ended_case}: {ended})"),
    "case_suspended": ("{actor} 批准挂账，复核日期 {review}", "{actor} approved the suspension, review on {review}"),
    "case_resumed": ("案件恢复办理，各时限顺延", "The case resumed; every due time moved on"),
    "case_voided": ("案件作废", "Case voided"),
    "case_merged": ("案件合并到 {into}", "Case merged into {into}"),
    "case_merged_from": ("重复案件 {from_case} 合并到本案", "Duplicate case {from_case} merged into this one"),
    "merged_callback": ("原案件 {original} 已结案，回访本案上报人", "Original {original} closed: calling this reporter back"),
    "task_extended": ("任务「{name}」时限 {old_due} → {new_due}", "“{name}” due {old_due} → {new_due}"),
    "deadline_provisional": ("时限按法定节假日暂算(当年节假日安排尚未公布)",
                             "A due time counted on statutory holidays alone (no holiday notice for its year yet)"),
    "deadline_recomputed": ("{year} 年节假日安排通知已载入：时限 {old_due} → {new_due}",
                            "Holiday notice for {year} loaded: due {old_due} → {new_due}"),
    "timer_failed": ("定时处理出错，将于 {retry_at} 重试", "Handling a time limit failed; retrying at {retry_at}"),
    "stage_changed": ("阶段：{from_stage} → {to_stage}", "Stage: {from_stage} → {to_stage}"),
    "escalated": ("提交{level}级会商{unit}", "Escalated to the {level} level{unit}"),
    "superior_notified": ("{department_name}超时未办，已通报其上级并提交{level}级会商",
                          "{department_name} let its limit pass: its superior is notified, the {level} level consults"),
    "handed_down": ("交办{level}{unit}", "Handed down to the {level}{unit}"),
    "rework": ("返工(第 {rework_count} 次)", "Sent back for rework (no. {rework_count})"),
    "returned": ("部门退单(第 {return_count} 次)", "Returned by the department (no. {return_count})"),
    "case_closed": ("案件结案{how}", "Case closed{how}"),
    "case_rejected": ("案件不予受理", "Case rejected"),
    "instance_completed": ("流程结束", "Process finished"),
    "message_sent": ("发出消息「{name}」", "Message “{name}” sent"),
    "message_received": ("收到消息「{name}」", "Message “{name}” received"),
    "signal_sent": ("发出信号「{name}」", "Signal “{name}” sent"),
    "signal_received": ("收到信号「{name}」", "Signal “{name}” received"),
}
# How a case closed, by its satisfaction: the feedback limit passing closes it without one.
CLOSED_HOW = {"no_feedback": ("(回访期限内未获上报人评价)", " (no feedback from the reporter within the limit)")}
# A name written "English 中文", as the workflows name their processes, timers and events.
_BILINGUAL = re.compile(r"^(?P<en>[^\u3000-\u9fff]*?[A-Za-z0-9)\].])\s+(?P<zh>[\u3000-\u9fff].*)$")


def lang() -> str:
    """The page's language, decided once per request (a page asks hundreds of times)."""
    if "lang" not in g:
        chosen = session.get("lang")
        g.lang = chosen if chosen in LANGUAGES else request.accept_languages.best_match(LANGUAGES, default="zh")
    return g.lang


def t(key: str, **params) -> str:
    zh, en = MESSAGES[key]
    text = zh if lang() == "zh" else en
    return text.format(**params) if params else text


def pick(zh: str | None, en: str | None) -> str:
    """The text in the current language, else whichever exists."""
    first, second = (zh, en) if lang() == "zh" else (en, zh)
    return first or second or ""


def label(kind: str, code) -> str:
    if code is None:
        return ""
    pair = LABELS.get(kind, {}).get(str(code))
    return pick(*pair) if pair else str(code)


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def due_hint(due: datetime | None) -> str:
    """"due in 3 h" or "2 d overdue", measured on the engine's clock."""
    if due is None:
        return ""
    current = now()
    minutes = int(abs((due - current).total_seconds()) // 60)
    if minutes == 0:
        return t("time.now")
    if minutes < 60:
        span = t("time.minutes", n=minutes)
    elif minutes < 48 * 60:
        span = t("time.hours", n=minutes // 60)
    else:
        span = t("time.days", n=minutes // (24 * 60))
    return t("time.in", span=span) if due >= current else t("time.ago", span=span)


def bilingual(name: str | None, name_zh: str | None = None) -> str:
    """A designer's name in the page's language: ``name_zh`` beside an English ``name``, or a
    name written "English 中文" (the convention of the workflows) taken apart."""
    found = _BILINGUAL.match(name or "")
    if found:
        name, name_zh = found["en"], name_zh or found["zh"]
    return pick(name_zh, name)


def task_name(task: dict) -> str:
    return bilingual(task.get("name") or task.get("element"), task.get("name_zh"))


def _paren(text: str | None) -> str:
    if not text:
        return ""
    return f"（{text}）" if lang() == "zh" else f" ({text})"


def _iso_local(value) -> str:
    try:
        return localtime(datetime.fromisoformat(value)) if value else ""
    except (TypeError, ValueError):
        return str(value)


def _coded(labels: dict, kind: str, code) -> str:
    """A coded value's name: from ``labels`` (the deployed definitions'), else :func:`label`'s."""
    return labels.get(kind, {}).get(code) or label(kind, code)


def _closed_how(satisfaction: str | None, labels: dict[str, str]) -> str:
    if satisfaction in CLOSED_HOW:
        return pick(*CLOSED_HOW[satisfaction])
    if satisfaction:
        return pick("，满意度：", "; satisfaction: ") + labels.get(satisfaction, satisfaction)
    return ""


def describe(item: dict, labels: dict | None = None) -> str:
    """A timeline item (engine/timeline.py) as its sentence in the page's language; ``labels``
    names coded values by the deployed definitions (``satisfaction``, ``department``, ``stage``)."""
    labels = labels or {}
    values = item["values"]
    template = EVENTS.get(item["key"])
    if template is None:
        return item["type"].replace("_", " ")
    actor = item["actor"] or {}
    name = task_name(item["task"])
    moves = item["moves_due"]
    params = {
        **values,
        "actor": pick(actor.get("name"), actor.get("name_en")) or actor.get("username") or pick("系统", "the system"),
        "process": bilingual(item["process"]) or item["process"],
        "assignee": pick(*item["assignee"]) if item["assignee"] else "",
        "name": name,
        "role": label("role", values.get("role")) or pick("发起人", "the initiator"),
        "due": (pick("，截止 ", ", due ") + _iso_local(values["due_at"])) if values.get("due_at") else "",
        "outcome": f" — {label('outcome', values['outcome'])}" if values.get("outcome") else "",
        "from_stage": _coded(labels, "stage", values.get("from")) or "—",
        "to_stage": _coded(labels, "stage", values.get("to")),
        "level": label("escalation", values.get("escalation_level")),
        "unit": _paren(pick(*item["unit"]) if item["unit"] else None),
        "timer": bilingual(values.get("name") or values.get("element") or ""),
        "on_task": (pick(f"，任务「{name}」", f" on “{name}”") if name else ""),
        "limit": _paren(bilingual(values.get("limit"))),
        "old_due": _iso_local(values.get("from")) if moves else "",
        "new_due": _iso_local(values.get("to")) if moves else "",
        "kind_name": label("exception_kind", values.get("kind")).lower(),
        "review": _iso_local(values.get("until")),
        "from_case": values.get("from") if item["type"] == "case_merged_from" else "",
        "ended_case": values.get("ended_case") or "",
        "ended": label("case_ending", values.get("ended")),
        "until": (pick("至 ", " until ") + _iso_local(values["until"])) if values.get("until") else "",
        "note": _paren(values.get("note")),
        "retry_at": _iso_local(values.get("retry_at")),
        "urge_count": values.get("urge_count") or "",
        "how": _closed_how(item["satisfaction"], labels.get("satisfaction", {})),
        "department_name": labels.get("department", {}).get(values.get("department")) or values.get("department"),
    }
    try:
        return pick(*template).format(**params)
    except (KeyError, IndexError, ValueError):
        return item["type"].replace("_", " ")


def timeline(items: list[dict], labels: dict | None = None) -> list[dict]:
    """Timeline items with their sentences in the page's language: what the pages list."""
    return [{"type": i["type"], "at": i["at"], "element": i["element"], "text": describe(i, labels), "note": i["note"]}
            for i in items]


def init_app(app: Flask) -> None:
    app.add_template_global(t, "_")
    app.add_template_global(pick)
    app.add_template_global(label)
    app.add_template_global(task_name)
    app.add_template_global(bilingual)
    app.add_template_global(lang)
    app.add_template_global(due_hint)
    app.add_template_filter(localtime)
    app.add_template_filter(_iso_local, "isolocal")
