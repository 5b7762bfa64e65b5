"""/docs of the gateway and of every service: Swagger UI served from the platform itself (the assets of the `swagger-ui-bundle`
package), so that it works offline and runs no third-party script, under a strict CSP."""
from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from shared.errors import NotFound

ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
INIT_SCRIPT = Path(__file__).parent / "static" / "docs-init.js"
ASSET_NAMES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})
# Swagger UI sets inline styles and shows inline SVG icons as data: URLs; scripts only from here.
DOCS_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
               "form-action 'none'")
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>RepitBot API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": DOCS_POLICY})


@router.get("/docs/init.js")
def init_script() -> FileResponse:
    return FileResponse(INIT_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/docs/assets/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSET_NAMES:
        raise NotFound("No such asset")
    return FileResponse(ASSETS / name, headers={"Cache-Control": "public, max-age=86400"})
