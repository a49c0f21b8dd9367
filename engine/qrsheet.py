"""Printable sheets of QR codes (segno draws the codes, Pillow lays them out): a PNG, or a
PDF of A4 pages, each code with its caption beneath."""
from __future__ import annotations

import io

from PIL import Image

PAGE = (1240, 1754)  # A4 at 150 dpi
COLUMNS, ROWS = 3, 4
MARGIN = 60
FORMATS = ("png", "pdf")


def _cell(url: str, caption: str, width: int, height: int) -> Image.Image:
    import segno  # segno and Pillow's drawing imported on use: only printing needs them
    from PIL import ImageDraw, ImageFont

    code = segno.make(url, error="m")
    scale = max(1, min(width - 20, height - 70) // code.symbol_size(border=4)[0])  # whole pixels per module
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    image = Image.open(io.BytesIO(out.getvalue())).convert("L")
    side = image.width
    cell = Image.new("L", (width, height), 255)
    cell.paste(image, ((width - side) // 2, 0))
    draw, font = ImageDraw.Draw(cell), ImageFont.load_default(size=18)
    for n, line in enumerate(caption.splitlines()[:2]):
        text_width = draw.textlength(line, font=font)
        draw.text(((width - text_width) / 2, side + 8 + n * 24), line, fill=0, font=font)
    return cell


def svg(url: str, title: str) -> str:
    """One code as inline SVG markup, for a page the browser prints."""
    import segno
    return segno.make(url, error="m").svg_inline(scale=4, title=title)


def sheet(codes: list[tuple[str, str]], fmt: str) -> bytes:
    """``codes``: (url, caption) pairs, captions of one or two lines that the default font
    draws (Latin letters and digits). ``fmt``: png (one image) or pdf (A4 pages)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not codes:
        raise ValueError("no QR codes to print")
    width = (PAGE[0] - 2 * MARGIN) // COLUMNS
    height = (PAGE[1] - 2 * MARGIN) // ROWS
    per_page = COLUMNS * ROWS
    chunks = [codes[i:i + per_page] for i in range(0, len(codes), per_page)] if fmt == "pdf" else [codes]
    pages = []
    for chunk in chunks:
        rows = ROWS if fmt == "pdf" else -(-len(chunk) // COLUMNS)
        page = Image.new("L", (PAGE[0], 2 * MARGIN + rows * height), 255)
        for i, (url, caption) in enumerate(chunk):
            page.paste(_cell(url, caption, width, height),
                       (MARGIN + (i % COLUMNS) * width, MARGIN + (i // COLUMNS) * height))
        pages.append(page)
    out = io.BytesIO()
    if fmt == "pdf":
        pages[0].save(out, format="PDF", resolution=150, save_all=True, append_images=pages[1:])
    else:
        pages[0].save(out, format="PNG")
    return out.getvalue()
