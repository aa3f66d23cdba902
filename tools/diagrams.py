"""Draw every diagram the notebooks show. One file, one style: change a word or a colour here, rerun, commit.

    python -m tools.diagrams                 # all diagrams, written to imgs/
    python -m tools.diagrams pooling tsdae   # only these (with or without .png)
    python -m tools.diagrams --out /tmp/d    # somewhere else (the tests do this)
    python -m tools.diagrams --list          # the names

Matplotlib only. Every figure is drawn in inch coordinates (the axes fill the figure and one data unit is one inch),
so positions below read as "inches from the bottom-left corner". After drawing, each figure is checked for text
that is cut off by the edge, overlaps other text, overflows its box or sits on a box it does not belong to; the
script fails rather than write a diagram with such a problem. Output is deterministic: fixed data, the bundled
DejaVu Sans font, no timestamp or version in the PNG metadata.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

IMGS = Path(__file__).resolve().parent.parent / "imgs"

# ----------------------------------------------------------------------------------------------------------------
# Shared style
# ----------------------------------------------------------------------------------------------------------------
DPI = 130
WIDTH = 10.0  # inches; every diagram is this wide, so they line up at notebook width
FONT = {"title": 13.0, "base": 10.5, "small": 9.0}
FAMILY = "DejaVu Sans"  # shipped with matplotlib: same glyphs on every machine

INK = "#1f2933"  # text and arrows
MUTED = "#6b7280"  # secondary text, dashed links
# kind -> (fill, edge). One meaning per colour across all diagrams.
PALETTE = {
    "text": ("#e8f1fb", "#2f6fb3"),  # sentences, tokens, queries: the input
    "model": ("#fdebd3", "#d97706"),  # transformers, encoders, heads
    "vector": ("#dcf3e3", "#2f9e55"),  # embeddings, positives
    "data": ("#ece6f8", "#7651c2"),  # datasets and corpora
    "loss": ("#fbe0e0", "#c93c3c"),  # losses, negatives, noise
    "neutral": ("#f1f3f5", "#8a939c"),  # padding, plain results
}
BOX_PAD = 0.06  # inches of rounding (FancyBboxPatch pad)

# Applied while a diagram is drawn and saved (a context, so importing this file changes no global setting).
STYLE = {
    "font.family": FAMILY,
    "font.size": FONT["base"],
    "mathtext.fontset": "dejavusans",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


@dataclass(frozen=True)
class Box:
    """A drawn box, centre (cx, cy) and size (w, h), in inches. Anchors for arrows."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def left(self) -> tuple[float, float]:
        return (self.cx - self.w / 2, self.cy)

    @property
    def right(self) -> tuple[float, float]:
        return (self.cx + self.w / 2, self.cy)

    @property
    def top(self) -> tuple[float, float]:
        return (self.cx, self.cy + self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.cx, self.cy - self.h / 2)

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """Point at fraction (fx, fy) of the box: (0, 0) bottom-left, (1, 1) top-right."""
        return (self.cx - self.w / 2 + fx * self.w, self.cy - self.h / 2 + fy * self.h)


def canvas(height: float, title: str | None = None, y0: float = 0.0):
    """A white figure WIDTH x height inches whose single axes uses inches as data units, y from y0 to y0 + height."""
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(fig)  # no pyplot: no backend choice, no global figure list
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(y0, y0 + height)
    ax.set_axis_off()
    fig._boxed = []  # (text, patch) pairs: the text must stay inside its patch
    fig._solid = []  # patches no free-standing text may cover
    if title:
        ax.text(0.2, y0 + height - 0.3, title, fontsize=FONT["title"], weight="bold", color=INK, va="center")
    return fig, ax


def box(ax, cx, cy, w, h, text="", kind="neutral", size="base", weight="normal", fill=None, edge=None, lw=1.4):
    """A rounded box with centred text, coloured by kind (fill/edge override it); registered for the layout check."""
    face, kind_edge = PALETTE[kind]
    patch = FancyBboxPatch(
        (cx - w / 2 + BOX_PAD, cy - h / 2 + BOX_PAD),
        w - 2 * BOX_PAD,
        h - 2 * BOX_PAD,
        boxstyle=f"round,pad={BOX_PAD}",
        facecolor=fill or face,
        edgecolor=edge or kind_edge,
        linewidth=lw,
        zorder=2,
    )
    ax.add_patch(patch)
    ax.figure._solid.append(patch)
    if text:
        t = ax.text(cx, cy, text, ha="center", va="center", fontsize=FONT[size], weight=weight, color=INK,
                    zorder=4, linespacing=1.3)
        ax.figure._boxed.append((t, patch))
    return Box(cx, cy, w, h)


def cell(ax, cx, cy, w, h, text="", face="white", edge=INK, size="small", color=INK, weight="normal", lw=0.8,
         hatch=None):
    """A square-cornered cell (matrices, vectors, mask rows)."""
    patch = Rectangle((cx - w / 2, cy - h / 2), w, h, facecolor=face, edgecolor=edge, linewidth=lw, hatch=hatch,
                      zorder=2)
    ax.add_patch(patch)
    ax.figure._solid.append(patch)
    if text:
        t = ax.text(cx, cy, text, ha="center", va="center", fontsize=FONT[size], color=color, weight=weight,
                    zorder=4)
        ax.figure._boxed.append((t, patch))
    return Box(cx, cy, w, h)


def label(ax, x, y, text, size="small", color=INK, ha="center", va="center", weight="normal", style="normal",
          on_line=False):
    """Free-standing text. on_line=True gives it a white background so it can sit on an arrow or line."""
    kwargs = {}
    if on_line:
        kwargs["bbox"] = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"}
    return ax.text(x, y, text, fontsize=FONT[size], color=color, ha=ha, va=va, weight=weight, style=style,
                   zorder=5, linespacing=1.3, **kwargs)


def arrow(ax, start, end, color=INK, lw=1.5, rad=0.0, dashed=False, both=False, head=True, shrink=2.0):
    """A straight (rad=0) or arced arrow from start to end, in inches."""
    style = "<|-|>" if both else ("-|>" if head else "-")
    a = FancyArrowPatch(
        start,
        end,
        arrowstyle=style,
        mutation_scale=14,
        connectionstyle=f"arc3,rad={rad}",
        color=color,
        linewidth=lw,
        linestyle=(0, (4, 3)) if dashed else "-",
        shrinkA=shrink,
        shrinkB=shrink,
        zorder=3,
    )
    ax.add_patch(a)
    return a


def polyline_arrow(ax, points, color=INK, lw=1.5, dashed=False):
    """A right-angled path through points with an arrow head on the last segment."""
    xs, ys = zip(*points[:-1])
    ax.plot(xs, ys, color=color, lw=lw, ls=(0, (4, 3)) if dashed else "-", zorder=3, solid_capstyle="butt")
    arrow(ax, points[-2], points[-1], color=color, lw=lw, dashed=dashed, shrink=0)


# ----------------------------------------------------------------------------------------------------------------
# Layout check: a diagram with clipped or colliding text is a bug, caught here rather than by a reader.
# ----------------------------------------------------------------------------------------------------------------
def layout_problems(fig) -> list[str]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    texts = [t for ax in fig.axes for t in ax.texts if t.get_visible() and t.get_text().strip()]
    boxed = {id(t): patch for t, patch in fig._boxed}
    extents = []
    for t in texts:
        patch = t.get_bbox_patch()
        bb = patch.get_window_extent(renderer) if patch is not None else t.get_window_extent(renderer)
        extents.append((t, bb))
    problems = []
    for t, bb in extents:
        if bb.x0 < 1 or bb.y0 < 1 or bb.x1 > width - 1 or bb.y1 > height - 1:
            problems.append(f"cut off by the edge: {t.get_text()!r}")
    for i, (t1, b1) in enumerate(extents):
        for t2, b2 in extents[i + 1 :]:
            if b1.padded(-1).overlaps(b2.padded(-1)):
                problems.append(f"text overlaps text: {t1.get_text()!r} / {t2.get_text()!r}")
    for t, bb in extents:
        own = boxed.get(id(t))
        if own is not None:
            pb = own.get_window_extent(renderer).padded(-2)
            if bb.x0 < pb.x0 or bb.x1 > pb.x1 or bb.y0 < pb.y0 or bb.y1 > pb.y1:
                problems.append(f"text overflows its box: {t.get_text()!r}")
            continue
        for patch in fig._solid:
            if bb.padded(-1).overlaps(patch.get_window_extent(renderer)):
                problems.append(f"free text sits on a box: {t.get_text()!r}")
                break
    return problems


# ----------------------------------------------------------------------------------------------------------------
# Diagrams
# ----------------------------------------------------------------------------------------------------------------
# Fixed "embedding" values for the small vectors drawn in cells: shading only, no meaning beyond that.
TOKEN_VALUES = [
    [0.9, 0.2, 0.6, 0.4],
    [0.3, 0.8, 0.5, 0.1],
    [0.6, 0.4, 0.9, 0.3],
    [0.2, 0.7, 0.3, 0.8],
    [0.5, 0.1, 0.4, 0.6],
    [0.4, 0.5, 0.2, 0.5],
    [0.4, 0.5, 0.2, 0.5],
]
GREENS = matplotlib.colormaps["Greens"]
ROUTE = {"cls": "#7651c2", "mean": "#2f9e55", "max": "#d97706"}


def shade(value: float) -> str:
    return matplotlib.colors.to_hex(GREENS(0.15 + 0.6 * value))


def draw_pooling():
    fig, ax = canvas(5.6, "Pooling: from token vectors to one sentence vector", y0=0.6)
    tokens = ["[CLS]", "w1", "w2", "w3", "[SEP]", "[PAD]", "[PAD]"]
    mask = [1, 1, 1, 1, 1, 0, 0]
    xs = [1.75 + 0.6 * i for i in range(len(tokens))]
    cw = 0.52
    # row labels
    label(ax, 0.2, 5.15, "tokens", ha="left", weight="bold")
    label(ax, 0.2, 3.27, "token vectors\n(one per token)", ha="left", weight="bold")
    label(ax, 0.2, 2.4, "attention\nmask", ha="left", weight="bold")
    # tokens -> transformer
    for x, tok, m in zip(xs, tokens, mask):
        b = cell(ax, x, 5.15, cw, 0.42, tok, face=PALETTE["text"][0] if m else PALETTE["neutral"][0],
                 edge=PALETTE["text"][1] if m else PALETTE["neutral"][1], size="small")
        arrow(ax, b.bottom, (x, 4.62), lw=1.0, shrink=1)
    grid_left, grid_right = xs[0] - cw / 2, xs[-1] + cw / 2
    tr = box(ax, (grid_left + grid_right) / 2, 4.3, grid_right - grid_left + 0.1, 0.6,
             "transformer encoder", kind="model", weight="bold")
    # token vectors (4 cells each) + mask row
    ch = 0.24
    top = 3.75
    for i, (x, m) in enumerate(zip(xs, mask)):
        arrow(ax, (x, tr.bottom[1]), (x, top + 0.02), lw=1.0, shrink=1)
        for k, value in enumerate(TOKEN_VALUES[i]):
            cell(ax, x, top - ch / 2 - k * ch, cw, ch, face=shade(value) if m else "#eceff1",
                 edge="#7b8794", hatch="////" if not m else None, lw=0.6)
        cell(ax, x, 2.4, cw, 0.38, str(m), face=PALETTE["vector"][0] if m else PALETTE["neutral"][0],
             edge=PALETTE["vector"][1] if m else PALETTE["neutral"][1], size="base", weight="bold")
    # the CLS column, outlined in the CLS route colour
    ax.add_patch(Rectangle((xs[0] - cw / 2 - 0.04, top - 4 * ch - 0.04), cw + 0.08, 4 * ch + 0.08, fill=False,
                           edgecolor=ROUTE["cls"], linewidth=2.2, zorder=3))
    # brackets: real tokens vs padding
    yb = 2.02
    for (i0, i1), text, color in (((0, 4), "real tokens: mask 1", PALETTE["vector"][1]),
                                  ((5, 6), "padding: mask 0", MUTED)):
        x0, x1 = xs[i0] - cw / 2, xs[i1] + cw / 2
        ax.plot([x0, x0, x1, x1], [yb + 0.1, yb, yb, yb + 0.1], color=color, lw=1.4, zorder=3)
        label(ax, (x0 + x1) / 2, yb - 0.25, text, color=color)
    label(ax, (grid_left + grid_right) / 2, 1.1,
          "[PAD] only fills the batch rectangle: mean and max\nmust ignore it, or padding leaks into the vector.",
          color=MUTED, style="italic")
    # three pooling routes
    src = (grid_right + 0.12, 3.27)
    routes = [
        (4.45, "CLS pooling\nthe first vector ([CLS])", "cls"),
        (3.2, "masked mean\naverage of the vectors\nwith mask 1", "mean"),
        (1.95, "max pooling\nelement-wise max over\nthe vectors with mask 1", "max"),
    ]
    rx, rw = 7.15, 2.05
    route_boxes = []
    for y, text, key in routes:
        b = box(ax, rx, y, rw, 0.95, text, size="small", fill="white", edge=ROUTE[key], lw=2.0)
        arrow(ax, src, b.left, color=ROUTE[key], lw=1.6)
        route_boxes.append((b, key))
    label(ax, rx, 5.15, "pick one route", weight="bold")
    # sentence vector, then normalise
    vx, vtop = 9.1, 3.72
    for k, value in enumerate([0.5, 0.7, 0.4, 0.6]):
        cell(ax, vx, vtop - ch / 2 - k * ch, 0.34, ch, face=shade(value), edge="#7b8794", lw=0.6)
    label(ax, vx, 4.25, "sentence vector u\n(size d)", weight="bold")
    for b, key in route_boxes:
        arrow(ax, b.right, (vx - 0.2, vtop - 2 * ch), color=ROUTE[key], lw=1.4)
    norm = box(ax, vx, 1.8, 1.4, 0.8, "normalise\nu / ‖u‖", kind="vector", weight="bold")
    arrow(ax, (vx, vtop - 4 * ch), norm.top)
    label(ax, vx, 0.95, "unit length:\ncosine = dot product", color=MUTED)
    return fig


def draw_bi_encoder():
    fig, ax = canvas(4.6, "Bi-encoder: each sentence is embedded on its own")
    rows = [
        (3.3, "sentence A", "“A man is playing\na guitar.”", "u"),
        (1.2, "sentence B", "“Someone plays\nan instrument.”", "v"),
    ]
    outs = []
    for y, name, example, vec in rows:
        s = box(ax, 1.3, y, 2.2, 0.9, f"{name}\n{example}", kind="text", size="small")
        enc = box(ax, 3.85, y, 1.7, 0.75, "encoder\n(transformer)", kind="model", weight="bold")
        pool = box(ax, 5.65, y, 1.3, 0.75, "pooling\n(mean)", kind="model")
        out = box(ax, 7.0, y, 0.65, 0.65, vec, kind="vector", weight="bold", size="title")
        arrow(ax, s.right, enc.left)
        arrow(ax, enc.right, pool.left)
        arrow(ax, pool.right, out.left)
        outs.append(out)
    # shared weights between the two encoders
    arrow(ax, (3.85, 2.9), (3.85, 1.6), color=MUTED, dashed=True, both=True, lw=1.3)
    label(ax, 3.85, 2.25, "same weights\n(shared)", color=MUTED, on_line=True, weight="bold")
    cos = box(ax, 8.75, 2.25, 1.9, 1.0, "cosine similarity\ncos(u, v)", kind="loss", weight="bold")
    arrow(ax, outs[0].right, cos.at(0.08, 0.9), rad=-0.2)
    arrow(ax, outs[1].right, cos.at(0.08, 0.1), rad=0.2)
    label(ax, 8.75, 1.3, "score in [−1, 1]", color=INK)
    arrow(ax, cos.bottom, (8.75, 1.45), shrink=1)
    label(ax, 5.0, 0.35, "No interaction between A and B inside the model: corpus vectors can be computed once and "
          "indexed.", color=MUTED, style="italic")
    return fig


def draw_cross_encoder():
    fig, ax = canvas(5.0, "Cross-encoder: the pair goes in together, one score comes out")
    parts = [("[CLS]", 0.75, "neutral"), ("sentence A", 2.4, "text"), ("[SEP]", 0.75, "neutral"),
             ("sentence B", 2.4, "text"), ("[SEP]", 0.75, "neutral")]
    gap = 0.1
    total = sum(w for _, w, _ in parts) + gap * (len(parts) - 1)
    x = (WIDTH - total) / 2
    y_in = 3.95
    centers = []
    for text, w, kind in parts:
        box(ax, x + w / 2, y_in, w, 0.5, text, kind=kind, weight="bold" if kind == "text" else "normal")
        centers.append(x + w / 2)
        x += w + gap
    label(ax, WIDTH / 2, 4.42, "ONE input: the two sentences concatenated", color=MUTED, weight="bold")
    tr = box(ax, WIDTH / 2, 2.8, total, 0.8,
             "transformer: full attention across both sentences\n(every token of A can attend to every token of B)",
             kind="model")
    arrow(ax, (WIDTH / 2, y_in - 0.27), tr.top)
    cls_x = centers[0]
    head = box(ax, 4.55, 1.35, 3.1, 0.8, "classification / regression head\nLinear → sigmoid", kind="model",
               weight="bold")
    cls_vec = box(ax, cls_x, 1.35, 0.95, 0.6, "[CLS]\nvector", kind="vector", size="small")
    arrow(ax, (cls_x, tr.bottom[1]), cls_vec.top)
    arrow(ax, cls_vec.right, head.left)
    score = box(ax, 7.85, 1.35, 1.9, 0.8, "score in 0..1\ne.g. 0.93", kind="loss", weight="bold")
    arrow(ax, head.right, score.left)
    label(ax, WIDTH / 2, 0.35, "No sentence vectors: every pair needs its own forward pass. Accurate, but far too slow "
          "to score a query against a whole corpus.", color=MUTED, style="italic")
    return fig


def draw_retrieve_rerank():
    fig, ax = canvas(4.3, "Retrieve & re-rank: fast recall, then accurate ordering", y0=0.25)
    y = 2.45
    q = box(ax, 0.85, y, 1.3, 0.7, "query", kind="text", weight="bold")
    bi = box(ax, 3.0, y, 2.3, 1.0, "bi-encoder search\ncosine top-k over the\nembedded corpus", kind="model",
             size="small")
    cand = box(ax, 5.25, y, 1.55, 1.0, "top-k\ncandidates\n(e.g. k = 100)", kind="neutral", size="small")
    ce = box(ax, 7.3, y, 1.95, 1.0, "cross-encoder\nre-scores each\n(query, candidate)", kind="model",
             size="small")
    res = box(ax, 9.2, y, 1.2, 1.0, "results\n(top 10)", kind="vector", weight="bold", size="small")
    for a, b in ((q, bi), (bi, cand), (cand, ce), (ce, res)):
        arrow(ax, a.right, b.left)
    corpus = box(ax, 3.0, 0.85, 2.6, 0.8, "large corpus (millions of passages)\nembedded once, offline",
                 kind="data", size="small")
    arrow(ax, corpus.top, bi.bottom)
    # speed annotations as brackets above the two stages
    for b, text, color in ((bi, "fast: one query encoding\n+ nearest-neighbour search", PALETTE["text"][1]),
                           (ce, "slow, accurate:\nk forward passes", PALETTE["model"][1])):
        x0, x1, yb = b.cx - b.w / 2, b.cx + b.w / 2, y + 0.68
        ax.plot([x0, x0, x1, x1], [yb - 0.08, yb, yb, yb - 0.08], color=color, lw=1.5, zorder=3)
        label(ax, b.cx, yb + 0.38, text, color=color, weight="bold")
    label(ax, 7.3, 0.85, "the bi-encoder keeps recall high and cheap;\nthe cross-encoder fixes the order at the top",
          color=MUTED, style="italic")
    return fig


def draw_mnrl_in_batch_negatives():
    fig, ax = canvas(5.4, "Multiple negatives ranking loss: the batch supplies the negatives")
    pairs = [("how to bake bread", "a simple bread recipe"), ("capital of France", "Paris is the capital"),
             ("sort a list", "use sorted() in Python"), ("flu symptoms", "fever, cough and aches")]
    n = len(pairs)
    label(ax, 0.3, 4.45, "anchor", ha="left", va="baseline", weight="bold", color=PALETTE["text"][1])
    label(ax, 2.1, 4.45, "positive", ha="left", va="baseline", weight="bold", color=PALETTE["vector"][1])
    row_y = [3.85 - 0.72 * i for i in range(n)]
    for i, ((a, p), y) in enumerate(zip(pairs, row_y)):
        box(ax, 1.1, y, 1.7, 0.55, f"a{i + 1}: {a}", kind="text", size="small")
        box(ax, 3.05, y, 2.0, 0.55, f"p{i + 1}: {p}", kind="vector", size="small")
    label(ax, 2.05, 0.85, "a batch of (anchor, positive) pairs,\nno labelled negatives", color=MUTED, style="italic")
    # similarity matrix
    cs = 0.62
    mx0 = 5.3  # left edge of the matrix
    mat_top = row_y[0] + cs / 2
    arrow(ax, (4.15, row_y[0] - 1.08), (4.6, row_y[0] - 1.08))
    label(ax, 4.37, row_y[0] - 0.68, "encode,\ncosine", color=MUTED)
    sims = [[0.92, 0.31, 0.12, 0.20], [0.25, 0.88, 0.09, 0.15], [0.10, 0.18, 0.85, 0.07], [0.22, 0.14, 0.11, 0.90]]
    for j in range(n):
        label(ax, mx0 + cs / 2 + j * cs, mat_top + 0.22, f"p{j + 1}", weight="bold", color=PALETTE["vector"][1])
    for i in range(n):
        yc = mat_top - cs / 2 - i * cs
        label(ax, mx0 - 0.22, yc, f"a{i + 1}", weight="bold", color=PALETTE["text"][1])
        for j in range(n):
            diag = i == j
            cell(ax, mx0 + cs / 2 + j * cs, yc, cs, cs, f"{sims[i][j]:.2f}",
                 face=PALETTE["vector"][0] if diag else PALETTE["neutral"][0],
                 edge=PALETTE["vector"][1] if diag else "#b8c0c8", lw=2.0 if diag else 0.8,
                 weight="bold" if diag else "normal")
        arrow(ax, (mx0 + n * cs + 0.05, yc), (mx0 + n * cs + 0.45, yc), lw=1.2, color=PALETTE["loss"][1])
    mat_bottom = mat_top - n * cs
    box(ax, 9.05, (mat_top + mat_bottom) / 2, 1.6, n * cs,
        "cross-entropy\nover each row\n\nsoftmax of\nscale × cos\n(scale = 20)\n\ntarget:\nthe diagonal",
        kind="loss", size="small")
    # legend
    ly = mat_bottom - 0.4
    cell(ax, mx0 + 0.12, ly, 0.22, 0.22, face=PALETTE["vector"][0], edge=PALETTE["vector"][1], lw=2.0)
    label(ax, mx0 + 0.32, ly, "diagonal: the positive", ha="left")
    cell(ax, mx0 + 0.12, ly - 0.36, 0.22, 0.22, face=PALETTE["neutral"][0], edge="#b8c0c8")
    label(ax, mx0 + 0.32, ly - 0.36, "off-diagonal: in-batch negatives (the other pairs' positives)", ha="left")
    label(ax, 7.55, 0.35, r"$\mathcal{L}_i = -\log \dfrac{e^{s\,\cos(a_i,\,p_i)}}{\sum_j e^{s\,\cos(a_i,\,p_j)}}$",
          size="base")
    return fig


def draw_triplet_loss():
    fig, ax = canvas(5.35, "Triplet loss: the positive must be closer than the negative, by a margin", y0=-0.15)
    label(ax, WIDTH / 2, 4.4, r"$\mathcal{L} = \max\,(\,d(a,p) - d(a,n) + \mathrm{margin},\ 0\,)$", size="base")
    margin = 0.5
    # (title, panel centre x, anchor, d(a,p), angle of p, d(a,n), angle of n, satisfied?)
    panels = [
        ("before: d(a,n) < d(a,p) + margin, so loss > 0", 2.5, (2.55, 2.05), 1.0, 35, 0.8, -150, False),
        ("after: d(a,n) ≥ d(a,p) + margin, so loss = 0", 7.5, (7.45, 2.05), 0.65, 35, 1.6, -150, True),
    ]
    green, red, blue = PALETTE["vector"][1], PALETTE["loss"][1], PALETTE["text"][1]
    for title, px, a, dap, ang_p, dan, ang_n, ok in panels:
        up, un = unit(ang_p), unit(ang_n)
        frame = FancyBboxPatch((px - 2.3 + BOX_PAD, 0.5 + BOX_PAD), 4.6 - 2 * BOX_PAD, 3.5 - 2 * BOX_PAD,
                               boxstyle=f"round,pad={BOX_PAD}", facecolor="#fbfcfd", edgecolor="#c3cad1", lw=1.0,
                               zorder=0)
        ax.add_patch(frame)
        label(ax, px, 3.75, title, weight="bold", color=green if ok else red)
        p = (a[0] + dap * up[0], a[1] + dap * up[1])
        neg = (a[0] + dan * un[0], a[1] + dan * un[1])
        # the zone the negative must leave: radius d(a,p) + margin
        ax.add_patch(Circle(a, dap + margin, facecolor=PALETTE["loss"][0], edgecolor=red, lw=1.0, ls=(0, (4, 3)),
                            alpha=0.6, zorder=1))
        ax.add_patch(Circle(a, dap, facecolor="white", edgecolor=green, lw=1.0, ls=(0, (2, 2)), zorder=1))
        for pt, color in ((a, blue), (p, green), (neg, red)):
            ax.add_patch(Circle(pt, 0.11, facecolor=color, edgecolor="white", lw=1.5, zorder=4))
        ax.plot([a[0], p[0]], [a[1], p[1]], color=green, lw=1.6, zorder=3)
        ax.plot([a[0], neg[0]], [a[1], neg[1]], color=red, lw=1.6, zorder=3)
        label(ax, a[0] - 0.2, a[1] + 0.14, "anchor", color=blue, weight="bold", ha="right")
        label(ax, p[0] + 0.18, p[1] + 0.15, "positive", color=green, weight="bold", ha="left")
        label(ax, neg[0] - 0.12, neg[1] - 0.22, "negative", color=red, weight="bold", ha="right")
        # distance labels, on the side of each line away from the other labels
        label(ax, a[0] + 0.5 * dap * up[0] + 0.2, a[1] + 0.5 * dap * up[1] - 0.14, "d(a,p)", color=green,
              ha="left", on_line=True)
        below = (-un[1] * 0.3, un[0] * 0.3)  # perpendicular to the a-n line, on its lower side
        if ok:  # above the line: the margin is drawn below it
            label(ax, a[0] + 0.6 * dan * un[0] - 0.12, a[1] + 0.6 * dan * un[1] + 0.22, "d(a,n)", color=red,
                  ha="right", on_line=True)
        else:
            label(ax, a[0] + 0.55 * dan * un[0] + below[0], a[1] + 0.55 * dan * un[1] + below[1], "d(a,n)",
                  color=red, ha="left", on_line=True)
        if not ok:  # training moves p in and n out
            arrow(ax, (p[0] + 0.05, p[1] + 0.32), (p[0] - 0.45, p[1] - 0.02), color=green, rad=0.35, lw=1.3)
            arrow(ax, (neg[0] + 0.1, neg[1] - 0.28), (neg[0] - 0.4, neg[1] - 0.45), color=red, rad=-0.35, lw=1.3)
        else:  # show the margin along the a-n direction, just below the line
            s = (a[0] + dap * un[0] + below[0], a[1] + dap * un[1] + below[1])
            e = (a[0] + (dap + margin) * un[0] + below[0], a[1] + (dap + margin) * un[1] + below[1])
            arrow(ax, s, e, both=True, lw=1.2, shrink=0, color=INK)
            mid = ((s[0] + e[0]) / 2, (s[1] + e[1]) / 2)
            label(ax, mid[0] + 0.12, mid[1] - 0.2, "margin", weight="bold", ha="left")
    label(ax, WIDTH / 2, 0.36, "green dotted circle: radius d(a,p); red zone: out to d(a,p) + margin, which the "
          "negative must leave\nd = Euclidean distance by default in sentence-transformers' TripletLoss (margin 5)",
          color=MUTED, style="italic", va="top")
    return fig


def unit(degrees: float) -> tuple[float, float]:
    return (math.cos(math.radians(degrees)), math.sin(math.radians(degrees)))


def draw_augmented_sbert():
    fig, ax = canvas(5.6, "Augmented SBERT: a cross-encoder labels extra pairs for the bi-encoder")
    gold = box(ax, 1.45, 4.3, 2.3, 0.85, "gold set\nsmall, human-labelled pairs", kind="data", size="small")
    train_ce = box(ax, 4.3, 4.3, 2.3, 0.85, "1 · train a\ncross-encoder", kind="model", weight="bold")
    arrow(ax, gold.right, train_ce.left)
    unl = box(ax, 1.45, 2.65, 2.3, 0.85, "unlabelled sentences\n(same domain)", kind="data", size="small")
    sample = box(ax, 4.3, 2.65, 2.3, 0.85, "2 · sample pairs\nrandom / BM25 /\nsemantic search", kind="neutral",
                 size="small")
    label_ce = box(ax, 6.9, 2.65, 2.1, 0.85, "3 · cross-encoder\nlabels the pairs", kind="model", weight="bold",
                   size="small")
    silver = box(ax, 9.1, 2.65, 1.5, 0.85, "silver set\nscored pairs", kind="data", size="small")
    arrow(ax, unl.right, sample.left)
    arrow(ax, sample.right, label_ce.left)
    arrow(ax, label_ce.right, silver.left)
    arrow(ax, train_ce.right, label_ce.top, rad=-0.3)
    label(ax, 7.55, 3.85, "the trained\nmodel", color=MUTED, style="italic")
    train_bi = box(ax, 6.1, 0.95, 2.7, 0.85, "4 · train the bi-encoder\non gold + silver", kind="model",
                   weight="bold")
    out = box(ax, 9.1, 0.95, 1.5, 0.85, "bi-encoder\n(embeddings)", kind="vector", weight="bold", size="small")
    arrow(ax, silver.bottom, train_bi.at(0.85, 1.0))
    arrow(ax, train_bi.right, out.left)
    # the gold pairs go to the bi-encoder too: a path round the left edge
    gx = 0.18
    polyline_arrow(ax, [gold.left, (gx, gold.cy), (gx, 0.95), train_bi.left], color=PALETTE["data"][1])
    label(ax, 2.6, 1.15, "gold pairs as well", color=PALETTE["data"][1], style="italic")
    return fig


def draw_tsdae():
    fig, ax = canvas(5.0, "TSDAE: rebuild the sentence from a damaged copy, through one vector")
    words = ["the", "movie", "was", "surprisingly", "good", "and", "well", "acted"]
    kept = {"movie", "surprisingly", "acted"}  # 3 of 8 kept: deletion ratio 0.6
    widths = [0.2 + 0.085 * len(w) for w in words]
    gap = 0.08

    def word_row(y, x0, show_deleted):
        x = x0
        for w, wd in zip(words, widths):
            keep = w in kept
            if keep or show_deleted:
                deleted = not keep and show_deleted == "struck"
                cell(ax, x + wd / 2, y, wd, 0.4, w, face=PALETTE["neutral"][0] if deleted else PALETTE["text"][0],
                     edge=PALETTE["neutral"][1] if deleted else PALETTE["text"][1],
                     color=MUTED if deleted else INK)
                if deleted:
                    ax.plot([x + 0.05, x + wd - 0.05], [y, y], color=PALETTE["loss"][1], lw=1.4, zorder=5)
            x += wd + gap
        return x - gap

    row_w = sum(widths) + gap * (len(words) - 1)
    x0 = 0.35
    label(ax, x0, 4.2, "input sentence", ha="left", weight="bold")
    word_row(3.75, x0, True)
    label(ax, x0, 2.95, "after word deletion (ratio 0.6): 60 % of the words dropped", ha="left", weight="bold",
          color=PALETTE["loss"][1])
    word_row(2.5, x0, "struck")
    arrow(ax, (x0 + row_w / 2, 3.52), (x0 + row_w / 2, 3.12), color=PALETTE["loss"][1], shrink=0)
    enc = box(ax, 7.9, 2.5, 2.0, 0.8, "encoder\n(transformer)", kind="model", weight="bold")
    arrow(ax, (x0 + row_w + 0.1, 2.5), enc.left)
    vec = box(ax, 7.9, 1.1, 2.3, 0.8, "sentence vector\n[CLS], fixed size", kind="vector", weight="bold")
    arrow(ax, enc.bottom, vec.top)
    dec = box(ax, 4.75, 1.1, 2.6, 0.8, "decoder (tied weights)\nsees only the vector", kind="model",
              weight="bold", size="small")
    arrow(ax, vec.left, dec.right)
    rec = box(ax, 1.65, 1.1, 2.6, 0.8, "reconstructs the original:\nthe movie was surprisingly\ngood and well acted",
              kind="text", size="small")
    arrow(ax, dec.left, rec.right)
    label(ax, 7.9, 4.1, "after training, keep only\nthe encoder + CLS pooling", color=MUTED, style="italic")
    label(ax, WIDTH / 2, 0.3, "loss: cross-entropy of the reconstruction against the original words (no labels needed)",
          color=MUTED, style="italic")
    return fig


def draw_adaptive_pretraining():
    fig, ax = canvas(4.3, "Adaptive pre-training, then supervised fine-tuning", y0=0.4)
    y = 2.0
    stages = [
        (1.2, 2.0, "pretrained\nencoder\n(e.g. BERT)", "model"),
        (3.65, 2.3, "1 · adaptive\npre-training\nTSDAE or MLM", "model"),
        (6.3, 2.3, "2 · supervised\nfine-tuning\nMNRL", "model"),
        (8.85, 2.0, "3 · evaluate:\ntarget-domain\nretrieval, nDCG@10", "vector"),
    ]
    boxes = [box(ax, cx, y, w, 1.05, text, kind=kind, size="small", weight="bold") for cx, w, text, kind in stages]
    for a, b in itertools.pairwise(boxes):
        arrow(ax, a.right, b.left)
    data = [
        (1, "unlabelled target-domain\ncorpus (in-domain text)"),
        (2, "labelled out-of-domain data\n(e.g. NLI pairs)"),
        (3, "target-domain queries +\nrelevance judgements"),
    ]
    for i, text in data:
        d = box(ax, boxes[i].cx, 3.55, boxes[i].w, 0.75, text, kind="data", size="small")
        arrow(ax, d.bottom, boxes[i].top)
    # baseline: skip adaptive pre-training
    b0, b2 = boxes[0], boxes[2]
    polyline_arrow(ax, [b0.bottom, (b0.cx, 0.75), (b2.cx, 0.75), b2.bottom], color=MUTED, dashed=True)
    label(ax, (b0.cx + b2.cx) / 2, 0.75, "baseline: skip step 1, compare nDCG@10", color=MUTED, on_line=True,
          style="italic")
    return fig


DIAGRAMS: dict[str, Callable] = {
    "pooling": draw_pooling,
    "bi_encoder": draw_bi_encoder,
    "cross_encoder": draw_cross_encoder,
    "retrieve_rerank": draw_retrieve_rerank,
    "mnrl_in_batch_negatives": draw_mnrl_in_batch_negatives,
    "triplet_loss": draw_triplet_loss,
    "augmented_sbert": draw_augmented_sbert,
    "tsdae": draw_tsdae,
    "adaptive_pretraining": draw_adaptive_pretraining,
}


def render(name: str, out_dir: Path, check: bool = True) -> tuple[Path | None, list[str]]:
    """Draw one diagram and write it, unless the layout check finds problems (then nothing is written)."""
    path = out_dir / f"{name}.png"
    with matplotlib.rc_context(STYLE):
        fig = DIAGRAMS[name]()
        problems = layout_problems(fig)
        if problems and check:
            return None, problems
        # Software=None drops matplotlib's version tag: the bytes depend on the drawing only.
        fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Software": None})
    return path, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the course diagrams (PNG).")
    parser.add_argument("names", nargs="*", help="diagrams to draw (default: all); a .png suffix is accepted")
    parser.add_argument("--out", type=Path, default=IMGS, help="output folder (default: imgs/)")
    parser.add_argument("--list", action="store_true", help="print the diagram names and exit")
    parser.add_argument("--no-check", action="store_true", help="write diagrams even with layout problems (drafts)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(DIAGRAMS))
        return 0
    names = [n.removesuffix(".png") for n in args.names] or list(DIAGRAMS)
    unknown = [n for n in names if n not in DIAGRAMS]
    if unknown:
        parser.error(f"unknown diagram(s): {', '.join(unknown)}; choose from: {', '.join(DIAGRAMS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in names:
        path, problems = render(name, args.out, check=not args.no_check)
        if path is not None:
            print(f"{path} ({path.stat().st_size // 1024} KB)")
        if problems:
            failed.append(name)
            print(f"{name}: layout problems:\n  " + "\n  ".join(problems), file=sys.stderr)
    if failed and not args.no_check:
        print(f"not written: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
