"""A small PNG bar-chart renderer: RGB canvas, a hand-drawn 5x7 bitmap font, zlib-encoded PNG.

Self-written so the harness needs nothing beyond python3 (no matplotlib, no gnuplot).
"""
import struct
import zlib

_GLYPHS = """
0 .###. #...# #..## #.#.# ##..# #...# .###.
1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
2 .###. #...# ....# ...#. ..#.. .#... #####
3 ####. ....# ....# .###. ....# ....# ####.
4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
5 ##### #.... ####. ....# ....# #...# .###.
6 ..##. .#... #.... ####. #...# #...# .###.
7 ##### ....# ...#. ..#.. .#... .#... .#...
8 .###. #...# #...# .###. #...# #...# .###.
9 .###. #...# #...# .#### ....# ...#. .##..
A .###. #...# #...# ##### #...# #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ####. #...# #...# #...# #...# #...# ####.
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
. ..... ..... ..... ..... ..... .##.. .##..
, ..... ..... ..... ..... .##.. ..#.. .#...
- ..... ..... ..... ##### ..... ..... .....
+ ..... ..#.. ..#.. ##### ..#.. ..#.. .....
/ ..... ....# ...#. ..#.. .#... #.... .....
( ...#. ..#.. .#... .#... .#... ..#.. ...#.
) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
: ..... .##.. .##.. ..... .##.. .##.. .....
= ..... ..... ##### ..... ##### ..... .....
% ##... ##..# ...#. ..#.. .#... #..## ...##
_ ..... ..... ..... ..... ..... ..... #####
> .#... ..#.. ...#. ....# ...#. ..#.. .#...
< ...#. ..#.. .#... #.... .#... ..#.. ...#.
* ..... ..#.. #.#.# .###. #.#.# ..#.. .....
; ..... .##.. .##.. ..... .##.. ..#.. .#...
? .###. #...# ....# ...#. ..#.. ..... ..#..
"""
FONT = {}
for _line in _GLYPHS.strip().splitlines():
    _ch, *_rows = _line.split()
    FONT[_ch] = _rows
FONT[" "] = ["....."] * 7
GLYPH_W, GLYPH_H, ADVANCE = 5, 7, 6


class Canvas:
    def __init__(self, w, h, bg=(255, 255, 255)):
        self.w, self.h = w, h
        self.px = bytearray(bytes(bg) * (w * h))

    def rect(self, x, y, w, h, color):
        x0, y0 = max(0, int(x)), max(0, int(y))
        x1, y1 = min(self.w, int(x + w)), min(self.h, int(y + h))
        if x1 <= x0 or y1 <= y0:
            return
        row = bytes(color) * (x1 - x0)
        for yy in range(y0, y1):
            o = (yy * self.w + x0) * 3
            self.px[o:o + len(row)] = row

    def hline(self, x0, x1, y, color, dash=0):
        if not dash:
            self.rect(x0, y, x1 - x0, 1, color)
            return
        x = x0
        while x < x1:
            self.rect(x, y, min(dash, x1 - x), 1, color)
            x += 2 * dash

    def text(self, x, y, s, color=(0, 0, 0), scale=1, vertical=False):
        """Draw upper-cased text; vertical text reads bottom to top, starting at (x, y) bottom."""
        for i, ch in enumerate(s.upper()):
            rows = FONT.get(ch, FONT["?"])
            for ry, row in enumerate(rows):
                for rx, bit in enumerate(row):
                    if bit != "#":
                        continue
                    if vertical:
                        px = x + ry * scale
                        py = y - (i * ADVANCE + rx + 1) * scale
                    else:
                        px = x + (i * ADVANCE + rx) * scale
                        py = y + ry * scale
                    self.rect(px, py, scale, scale, color)

    def png(self):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(tag, data):
            return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(s, scale=1):
    return len(s) * ADVANCE * scale - scale


COLORS = {
    "ringway": (230, 85, 13), "ringway-base": (253, 174, 107), "haproxy": (49, 130, 189),
    "haproxy-splice": (140, 190, 225),
    "nginx": (49, 163, 84), "socat": (117, 107, 177), "direct": (150, 150, 150),
}
GRID, AXIS, DARK = (225, 225, 225), (60, 60, 60), (20, 20, 20)


def _wrap(label, max_w, scale):
    words, lines = label.split(), []
    for wd in words:
        if lines and text_width(lines[-1] + " " + wd, scale) <= max_w:
            lines[-1] += " " + wd
        else:
            lines.append(wd)
    return lines


def bar_chart(path, title, subtitle, panels, relays, cap=5.0):
    """panels: [(panel_title, [(group_label, {relay: value or None}), ...]), ...]."""
    W, left, right = 1400, 70, 20
    plot_h, panel_h = 250, 360
    top = 100
    H = top + panel_h * len(panels) + 10
    c = Canvas(W, H)
    c.text(left, 12, title, DARK, 2)
    c.text(left, 38, subtitle, AXIS, 1)
    x = left
    for r in relays:  # legend
        c.rect(x, 62, 16, 16, COLORS.get(r, (0, 0, 0)))
        c.text(x + 22, 63, r, DARK, 2)
        x += 22 + text_width(r, 2) + 30
    for pi, (ptitle, groups) in enumerate(panels):
        y0 = top + pi * panel_h
        c.text(left, y0 + 4, ptitle, DARK, 2)
        py0, py1 = y0 + 30, y0 + 30 + plot_h  # plot top / baseline
        vals = [v for _, d in groups for v in d.values() if v is not None]
        ymax = min(cap, max([1.5] + [v * 1.08 for v in vals]))  # room for the value labels
        step = 0.5 if ymax <= 3 else 1.0
        ymax = step * int(ymax / step + 0.999)

        def ypos(v):
            return py1 - min(v, ymax) / ymax * plot_h
        t = 0.0
        while t <= ymax + 1e-9:
            yy = int(ypos(t))
            c.hline(left, W - right, yy, GRID)
            lab = f"{t:.1f}"
            c.text(left - 8 - text_width(lab, 2), yy - 7, lab, AXIS, 2)
            t += step
        gw = (W - right - left) / max(1, len(groups))
        nb = max(1, len(relays))
        bw = max(3, min(26, int((gw - 14) / nb)))
        for gi, (glabel, d) in enumerate(groups):
            gx = left + gi * gw
            bx = gx + (gw - bw * nb) / 2
            for ri, r in enumerate(relays):
                v = d.get(r)
                x0 = int(bx + ri * bw)
                if v is None:
                    c.text(x0 + (bw - 7) // 2, py1 - 3, "N/A", (170, 170, 170), 1, vertical=True)
                    continue
                ytop = int(ypos(v))
                c.rect(x0 + 1, ytop, bw - 2, py1 - ytop, COLORS.get(r, (0, 0, 0)))
                lab = f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"
                if bw >= 9:
                    if v > ymax:  # clipped bar: label inside, in white
                        c.text(x0 + (bw - 7) // 2, ytop + text_width(lab) + 6, lab, (255, 255, 255), 1, True)
                    else:
                        c.text(x0 + (bw - 7) // 2, ytop - 3, lab, DARK, 1, vertical=True)
            lines = _wrap(glabel, gw - 6, 2)
            for li, ln in enumerate(lines):
                c.text(int(gx + (gw - text_width(ln, 2)) / 2), py1 + 10 + li * 18, ln, DARK, 2)
        c.hline(left, W - right, int(ypos(1.0)), DARK, dash=6)
        c.hline(left, W - right, py1, AXIS)
        c.rect(left, py0, 1, plot_h, AXIS)
    with open(path, "wb") as f:
        f.write(c.png())
