"""The browser libraries (bpmn-js, dmn-js, the properties panel) served from the npm packages that
``make`` installs into node_modules: no CDN, nothing of theirs in the repository. The modeler is
bundled there from those packages and web/modeler/ by ``make assets`` (esbuild).

Only the files below are served (an allow-list, not a directory). Where they are missing
(npm not run), ``vendor_ready`` is false and the pages render without their diagrams.
"""
from __future__ import annotations

import os

from flask import Blueprint, Flask, abort, current_app, send_from_directory, url_for

bp = Blueprint("vendor", __name__)

# Beside the source tree by default; an installed package is pointed at them with GRIDLOOP_NODE_MODULES.
ROOT = os.environ.get("GRIDLOOP_NODE_MODULES") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules")
_BPMN, _DMN = "bpmn-js/dist/", "dmn-js/dist/"
FILES = {
    "viewer": _BPMN + "bpmn-navigated-viewer.production.min.js",
    "modeler": ".gridloop/modeler.js",
    "panel-css": "@bpmn-io/properties-panel/dist/assets/properties-panel.css",
    "diagram-css": _BPMN + "assets/diagram-js.css",
    "bpmn-css": _BPMN + "assets/bpmn-js.css",
    "font-css": _BPMN + "assets/bpmn-font/css/bpmn.css",
    "dmn-viewer": _DMN + "dmn-viewer.production.min.js",
    "dmn-modeler": _DMN + "dmn-modeler.production.min.js",
    "dmn-diagram-css": _DMN + "assets/diagram-js.css",
    "dmn-table-controls-css": _DMN + "assets/dmn-js-decision-table-controls.css",
    "dmn-boxed-css": _DMN + "assets/dmn-js-boxed-expression.css",
    "dmn-boxed-controls-css": _DMN + "assets/dmn-js-boxed-expression-controls.css",
    "dmn-shared-css": _DMN + "assets/dmn-js-shared.css",
    "dmn-drd-css": _DMN + "assets/dmn-js-drd.css",
    "dmn-table-css": _DMN + "assets/dmn-js-decision-table.css",
    "dmn-literal-css": _DMN + "assets/dmn-js-literal-expression.css",
    "dmn-font-css": _DMN + "assets/dmn-font/css/dmn.css",
}
# The font files bpmn.css and dmn.css point at (../font/...), served beside them under the same URL layout.
FONTS = {f"{package}-js/dist/assets/{package}-font/font/{package}.{ext}"
         for package in ("bpmn", "dmn") for ext in ("woff2", "woff", "ttf", "eot", "svg")}
SERVED = set(FILES.values()) | FONTS


def _root() -> str:
    return current_app.config.get("NODE_MODULES") or ROOT


def vendor_ready(*names: str) -> bool:
    """Whether the named files (keys of FILES) are installed."""
    return all(os.path.isfile(os.path.join(_root(), FILES[n])) for n in names)


def vendor_url(name: str) -> str:
    return url_for("vendor.asset", path=FILES[name])


@bp.get("/vendor/<path:path>")
def asset(path: str):
    if path not in SERVED:
        abort(404)
    return send_from_directory(_root(), path, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(vendor_ready)
    app.add_template_global(vendor_url)
