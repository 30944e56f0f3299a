"""Teaching widgets: live in JupyterLab, precomputed and client-side in the static book.

A reader of the online book has no kernel, so a Python callback cannot run
behind a slider there. :func:`explore` therefore has two modes behind one call:

* **live** (JupyterLab, nbmake, the default): one control per parameter and an
  output area; every change calls ``fn`` again, as ``ipywidgets.interact`` does.
* **static** (the executed book): every combination of parameter values is
  rendered once, at build time, into a PNG ``ipywidgets.Image``. The images sit
  in nested ``ipywidgets.Stack`` containers whose ``selected_index`` is
  ``jsdlink``-ed to the ``index`` of the controls, so moving a slider in the
  built HTML page only switches which precomputed image is shown: it is
  instant and needs no kernel.

The mode comes from ``precompute=`` or, when that is ``None``, from the
environment variable :data:`STATIC_ENV_VAR` (``MRS_STATIC_WIDGETS=1``), which
``make book`` exports and the book's Sphinx extension
(``book/_ext/offline_widgets.py``) sets for every build. The JavaScript that
renders the widgets in the static page is served by the book itself (see that
extension), so the pages work offline.

The introduction chapter (``book/intro.md``) shows both the pipeline figure
(:func:`pipeline_figure`) and a first teaching widget.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as ipw
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .errors import MRSError

#: Environment variable that selects precomputed (static) widgets when set to 1/true/yes.
STATIC_ENV_VAR = "MRS_STATIC_WIDGETS"

#: Default bound on the number of precomputed views (each is a PNG embedded in the page).
MAX_VIEWS = 60

ParamSpec = Sequence[Any] | Mapping[str, Any]


class WidgetParamError(MRSError, ValueError):
    """Parameters that :func:`explore` cannot turn into controls.

    For example: empty, duplicated, or asking for too many views.
    """


def static_mode() -> bool:
    """Whether widgets should be precomputed: ``$MRS_STATIC_WIDGETS`` is 1, true, yes or on."""
    return os.environ.get(STATIC_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- parameters


def _label(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:g}"


def _options(name: str, spec: ParamSpec) -> tuple[list[tuple[str, Any]], bool]:
    """``(label, value)`` pairs for one parameter and whether it is a dropdown (a mapping)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise WidgetParamError(f"parameter name {name!r}: expected a Python identifier")
    if hasattr(spec, "tolist") and not isinstance(spec, Mapping):  # numpy arrays -> Python scalars
        spec = spec.tolist()
    if isinstance(spec, Mapping):
        pairs = [(str(k), v) for k, v in spec.items()]
        dropdown = True
    elif isinstance(spec, Sequence) and not isinstance(spec, str | bytes):
        pairs = [(_label(v), v) for v in spec]
        dropdown = False
    else:
        raise WidgetParamError(
            f"parameter {name!r}: expected a sequence of values or a mapping label -> value, "
            f"got {type(spec).__name__}"
        )
    if not pairs:
        raise WidgetParamError(f"parameter {name!r}: expected at least one value, got none")
    labels = [label for label, _ in pairs]
    if len(set(labels)) != len(labels):
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        raise WidgetParamError(f"parameter {name!r}: values must be distinct, repeated {dup}")
    return pairs, dropdown


def _control(
    name: str, pairs: list[tuple[str, Any]], dropdown: bool, index: int, continuous: bool
) -> ipw.ValueWidget:
    style = {"description_width": "initial"}
    if dropdown:
        return ipw.Dropdown(options=pairs, index=index, description=name, style=style)
    return ipw.SelectionSlider(
        options=pairs,
        index=index,
        description=name,
        continuous_update=continuous,
        style=style,
        layout=ipw.Layout(width="min(100%, 32em)"),
    )


# --------------------------------------------------------------------------- figures


def _call_for_figure(fn: Callable[..., Any], values: Mapping[str, Any]) -> list[Figure]:
    """Call ``fn(**values)`` and return the figures it produced (returned or newly opened).

    Figures opened by ``fn`` but not returned are included, so a function that draws
    with ``plt`` works as well as one that returns a :class:`~matplotlib.figure.Figure`.
    On error every new figure is closed before the exception propagates.
    """
    before = set(plt.get_fignums())
    try:
        result = fn(**values)
    except BaseException:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)
        raise
    figures = [plt.figure(num) for num in sorted(set(plt.get_fignums()) - before)]
    if isinstance(result, Figure) and result not in figures:
        figures.append(result)
    if not figures:
        raise WidgetParamError(
            f"{getattr(fn, '__name__', fn)!r} drew no figure for {dict(values)}: "
            "it must draw with matplotlib or return a Figure"
        )
    return figures


def _close(figures: Sequence[Figure]) -> None:
    for fig in figures:
        plt.close(fig)


def outside_axes(fig: Figure, *, rtol: float = 1e-6) -> list[str]:
    """What ``fig`` draws outside its axes' limits: one description per clipped artist.

    A view that clips its data hides what it is meant to show (a peak cut off
    at the top of the axes). Checked, in data coordinates of each axes:

    * lines (``ax.plot``): within the visible x-range their y-values must lie
      inside the y-limits (a spectrum may extend beyond a ppm window: that crop
      is deliberate);
    * scatter points: x and y inside the limits;
    * bars (rectangles): the whole bar inside the limits.

    Artists in axes coordinates (``axvline``, ``axhline``, text) are not checked;
    non-finite values are ignored. An empty list means nothing is clipped.
    """
    problems: list[str] = []
    for k, ax in enumerate(fig.axes):
        where = f"axes {k} ({ax.get_title() or 'untitled'})"
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        dx, dy = rtol * (x1 - x0), rtol * (y1 - y0)
        lims = (x0 - dx, x1 + dx, y0 - dy, y1 + dy)
        for line in (a for a in ax.lines if a.get_transform() is ax.transData):
            x, y = (np.asarray(d, dtype=float) for d in line.get_data())
            seen = np.isfinite(x) & np.isfinite(y) & (x >= lims[0]) & (x <= lims[1])
            if (seen & ~_inside(x, y, lims)).any():
                problems.append(
                    f"{where}: line {line.get_label()!r} reaches y = [{y[seen].min():.4g}, "
                    f"{y[seen].max():.4g}] outside ylim [{y0:.4g}, {y1:.4g}]"
                )
        for coll in (c for c in ax.collections if c.get_offset_transform() is ax.transData):
            xy = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
            xy = xy[np.isfinite(xy).all(axis=1)]
            if n_out := int((~_inside(xy[:, 0], xy[:, 1], lims)).sum()):
                problems.append(f"{where}: {n_out} scatter points outside the limits")
        for bar in (p for p in ax.patches if isinstance(p, Rectangle)):
            b = bar.get_bbox()
            if not _inside(np.array([b.x0, b.x1]), np.array([b.y0, b.y1]), lims).all():
                problems.append(f"{where}: bar {bar.get_label()!r} extends outside the limits")
    return problems


def _inside(x: np.ndarray, y: np.ndarray, lims: tuple[float, ...]) -> np.ndarray:
    return (x >= lims[0]) & (x <= lims[1]) & (y >= lims[2]) & (y <= lims[3])


def shared_limits(curves: Sequence[npt.ArrayLike], pad: float = 0.05) -> tuple[float, float]:
    """``(low, high)`` around every finite value of ``curves``, widened by ``pad`` of the range.

    Use it for the y-limits of a widget whose views should share one scale
    (so that moving a slider compares heights) without clipping any of them.
    """
    values = np.concatenate([np.ravel(np.asarray(c, dtype=float)) for c in curves])
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise WidgetParamError("shared_limits: no finite values")
    lo, hi = float(values.min()), float(values.max())
    margin = pad * (hi - lo) if hi > lo else max(abs(hi), 1.0) * pad
    return lo - margin, hi + margin


def _inside_axes_only(fn: Callable[..., Any]) -> Callable[..., Figure]:
    """``fn`` wrapped so that a figure drawing data outside its axes raises WidgetParamError."""

    def checked(**values: Any) -> Figure:
        figures = _call_for_figure(fn, values)
        problems = [p for fig in figures for p in outside_axes(fig)]
        if problems:
            _close(figures)
            raise WidgetParamError(
                f"{getattr(fn, '__name__', fn)!r} clips its data for {values}: "
                + "; ".join(problems)
            )
        return figures[-1]

    checked.__name__ = getattr(fn, "__name__", "checked")
    return checked


def render_png(fn: Callable[..., Any], values: Mapping[str, Any], *, dpi: float = 80) -> bytes:
    """Render the figure that ``fn(**values)`` draws to PNG bytes and close it.

    With several figures only the last one is kept (the others are closed too).
    """
    figures = _call_for_figure(fn, values)
    try:
        fig = figures[-1]
        buf = io.BytesIO()
        # a layout engine (constrained/tight) already fits the labels; "tight" costs a second draw
        tight = None if fig.get_layout_engine() is not None else "tight"
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches=tight)
        return buf.getvalue()
    finally:
        _close(figures)


# --------------------------------------------------------------------------- widgets


class LiveExplorer(ipw.VBox):
    """Controls plus an output area; ``fn`` is called again on every change (needs a kernel).

    Attributes: ``controls`` (name -> widget), ``out`` (the ``Output``), ``values``.
    """

    def __init__(self, fn: Callable[..., Any], controls: Mapping[str, ipw.ValueWidget]):
        self.fn = fn
        self.controls = dict(controls)
        self.out = ipw.Output()
        super().__init__([*self.controls.values(), self.out], _dom_classes=["mrs-explore"])
        self._draw()  # the first call raises, so a broken fn fails the cell
        for w in self.controls.values():
            w.observe(self._on_change, names="value")

    @property
    def values(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.controls.items()}

    def _draw(self) -> None:
        from IPython.display import display

        figures = _call_for_figure(self.fn, self.values)
        try:
            with self.out:
                self.out.clear_output(wait=True)
                display(figures[-1])
        finally:
            _close(figures)

    def _on_change(self, _change: object) -> None:
        try:
            self._draw()
        except Exception:  # show the traceback where the figure would be, keep the widget alive
            with self.out:
                self.out.clear_output(wait=True)
                print(traceback.format_exc())


class StaticExplorer(ipw.VBox):
    """Controls driving nested ``Stack`` widgets of precomputed PNG views, linked in the browser.

    ``views`` lists the :class:`ipywidgets.Image` views in row-major order over
    ``combinations`` (dicts of parameter values), so ``views[i]`` shows
    ``fn(**combinations[i])``. The controls' ``index`` is ``jsdlink``-ed to the
    ``selected_index`` of the stacks one level below them, so the static page
    updates without a kernel.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        controls: Mapping[str, ipw.ValueWidget],
        options: Mapping[str, list[tuple[str, Any]]],
        *,
        dpi: float,
    ):
        self.fn = fn
        self.controls = dict(controls)
        names = list(self.controls)
        self.combinations: list[dict[str, Any]] = [
            dict(zip(names, (v for _, v in combo), strict=True))
            for combo in itertools.product(*(options[n] for n in names))
        ]
        self.views: list[ipw.Image] = []
        for values in self.combinations:
            png = render_png(fn, values, dpi=dpi)
            self.views.append(ipw.Image(value=png, format="png", layout=ipw.Layout(width="auto")))
        self.links: list[ipw.widgets.widget_link.DirectionalLink] = []
        self.stack = self._nest(names, self.views)
        super().__init__([*self.controls.values(), self.stack], _dom_classes=["mrs-explore"])

    def _nest(self, names: list[str], leaves: list[ipw.Widget]) -> ipw.Widget:
        """Group ``leaves`` (row-major over ``names``) into one Stack level per parameter."""
        if not names:
            return leaves[0]
        control = self.controls[names[0]]
        n = len(control.options)
        size = len(leaves) // n
        children = [self._nest(names[1:], leaves[i * size : (i + 1) * size]) for i in range(n)]
        stack = ipw.Stack(children, selected_index=control.index)
        self.links.append(ipw.jsdlink((control, "index"), (stack, "selected_index")))
        return stack

    @property
    def values(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.controls.items()}

    @property
    def current_view(self) -> ipw.Image:
        """The view the controls select (what the static page shows)."""
        widget: ipw.Widget = self.stack
        while isinstance(widget, ipw.Stack):
            widget = widget.children[widget.selected_index]
        return widget


def explore(
    fn: Callable[..., Any],
    params: Mapping[str, ParamSpec],
    *,
    precompute: bool | None = None,
    continuous_update: bool | None = None,
    defaults: Mapping[str, Any] | None = None,
    max_views: int = MAX_VIEWS,
    dpi: float = 80,
    inside_axes: bool = False,
) -> LiveExplorer | StaticExplorer:
    """A teaching widget over ``fn(**values)``, live in JupyterLab and precomputed in the book.

    Parameters
    ----------
    fn
        Draws one matplotlib figure for one set of keyword values (or returns a
        :class:`~matplotlib.figure.Figure`). Figures are closed after use.
    params
        ``name -> values``: a sequence (list, tuple, range, 1-D numpy array) of
        allowed values gives a slider over those values; a mapping
        ``label -> value`` gives a dropdown.
    precompute
        ``True``: pre-render every combination (static mode); ``False``: live
        callbacks; ``None`` (default): static when ``$MRS_STATIC_WIDGETS`` is set
        (see :func:`static_mode`), else live.
    continuous_update
        Whether sliders update while dragging; default: yes when precomputed
        (switching images is instant), no when live (each update runs ``fn``).
    defaults
        Initial value per parameter (default: the first value of each).
    max_views
        Upper bound on the number of combinations in static mode (each is an
        embedded PNG); more raises :class:`WidgetParamError`.
    dpi
        Resolution of the precomputed PNG views.
    inside_axes
        Check every view drawn (all of them when precomputed, each update when
        live) with :func:`outside_axes`: a view whose data leave its axes limits
        raises :class:`WidgetParamError` instead of showing a clipped figure.

    Returns
    -------
    LiveExplorer or StaticExplorer
        Both are ``ipywidgets.VBox`` with ``controls`` and ``values``;
        display the widget as the last expression of a cell.

    Raises
    ------
    WidgetParamError
        Empty or repeated values, a non-identifier name, an unknown default, too
        many combinations, ``fn`` drawing no figure, or (with ``inside_axes``) a
        view drawing outside its axes. Exceptions raised by
        ``fn`` itself propagate unchanged.
    """
    if not isinstance(params, Mapping) or not params:
        raise WidgetParamError(
            f"params: expected a non-empty mapping name -> values, got {params!r}"
        )
    static = static_mode() if precompute is None else bool(precompute)
    continuous = static if continuous_update is None else bool(continuous_update)
    defaults = dict(defaults or {})
    unknown = set(defaults) - set(params)
    if unknown:
        raise WidgetParamError(f"defaults: unknown parameters {sorted(unknown)}")

    options: dict[str, list[tuple[str, Any]]] = {}
    controls: dict[str, ipw.ValueWidget] = {}
    for name, spec in params.items():
        pairs, dropdown = _options(name, spec)
        index = 0
        if name in defaults:
            matches = [i for i, (_, v) in enumerate(pairs) if _same(v, defaults[name])]
            if not matches:
                raise WidgetParamError(
                    f"defaults[{name!r}] = {defaults[name]!r} is not one of {[v for _, v in pairs]}"
                )
            index = matches[0]
        options[name] = pairs
        controls[name] = _control(name, pairs, dropdown, index, continuous)

    if inside_axes:
        fn = _inside_axes_only(fn)
    if not static:
        return LiveExplorer(fn, controls)
    n_views = math.prod(len(p) for p in options.values())
    if n_views > max_views:
        sizes = " x ".join(f"{len(p)} ({n})" for n, p in options.items())
        raise WidgetParamError(
            f"{n_views} combinations ({sizes}) exceed max_views={max_views}: each is a "
            "precomputed image in the page; use fewer values or raise max_views"
        )
    with mpl.rc_context({"figure.max_open_warning": 0}):
        return StaticExplorer(fn, controls, options, dpi=dpi)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other objects without a boolean ==
        return a is b


# --------------------------------------------------------------------------- editing pulse

#: OFF positions offered by the chapter 1 widget: the paper's 7.4 ppm and 1.5 ppm, where the
#: OFF pulse inverts the 1.72 ppm macromolecules as much as an ON pulse at 1.9 ppm does.
EDIT_OFF_CHOICES: dict[str, float] = {"7.4 ppm (paper)": 7.4, "1.5 ppm (MM-symmetric)": 1.5}


def editing_profile_figure(
    centre_ppm: float = 1.9,
    duration_ms: float = 20.0,
    off_ppm: float = 7.4,
    *,
    larmor_mhz: float | None = None,
    targets: Mapping[str, float] | None = None,
) -> Figure:
    """What a MEGA editing pulse inverts: its profile (left) and the edited fraction (right).

    Left: ``Mz`` after the ON pulse at ``centre_ppm`` (and the OFF pulse at
    ``off_ppm`` when it falls in the 1.3-2.6 ppm window) with the resonances of
    :data:`mrs_lib.sim.editing.EDITING_TARGETS` marked. Right: for each of them
    the inverted fraction under ON minus that under OFF, which is how much of
    it is edited into the difference spectrum (:func:`mrs_lib.sim.editing.inverted_fraction`).
    Chapter 1 puts it behind sliders for the centre, the duration and the OFF position.
    """
    from .sim.editing import (
        EDITING_TARGETS,
        PAPER_LARMOR_MHZ,
        editing_bandwidth_hz,
        editing_profile,
        inverted_fraction,
    )

    larmor = PAPER_LARMOR_MHZ if larmor_mhz is None else larmor_mhz
    marks = dict(EDITING_TARGETS if targets is None else targets)
    window = (1.3, 2.6)
    ppm = np.linspace(*window, 521)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.4), width_ratios=(3, 2), layout="constrained")
    ax.plot(ppm, editing_profile(ppm, centre_ppm, duration_ms, larmor), label="ON pulse")
    if window[0] <= off_ppm <= window[1]:
        off_mz = editing_profile(ppm, off_ppm, duration_ms, larmor)
        ax.plot(ppm, off_mz, "--", color="C1", label="OFF pulse")
    for label, x in marks.items():
        ax.axvline(x, color="0.5", lw=0.8, ls=":")
        ax.text(
            x,
            0.02,
            label,
            rotation=90,
            fontsize=8,
            ha="right",
            va="bottom",
            transform=ax.get_xaxis_transform(),
        )
    ax.set(xlim=window[::-1], ylim=(-1.1, 1.1), xlabel="ppm", ylabel="$M_z$ after the pulse")
    ax.legend(loc="center left", fontsize=8)
    ax.set_title(f"ON at {centre_ppm:g} ppm, OFF at {off_ppm:g} ppm", fontsize=10)

    on = inverted_fraction(centre_ppm, duration_ms, larmor, marks)
    off = inverted_fraction(off_ppm, duration_ms, larmor, marks)
    edited = [on[k] - off[k] for k in marks]
    rows = np.arange(len(marks))
    bx.barh(rows, edited, color=["C2" if e >= 0 else "C3" for e in edited])
    labels = [f"{k}  {e:+.0%}" for k, e in zip(marks, edited, strict=True)]
    bx.set(yticks=rows, yticklabels=labels, xlim=(-1.05, 1.05), ylim=(-0.6, len(marks) - 0.4))
    bx.axvline(0, color="0.3", lw=0.8)
    bx.set_xlabel("inverted by ON - by OFF")
    bx.set_title("edited fraction", fontsize=10)
    fig.suptitle(
        f"{duration_ms:g} ms Gaussian editing pulse, inversion FWHM "
        f"{editing_bandwidth_hz(duration_ms):.0f} Hz at {larmor:g} MHz",
        fontsize=11,
    )
    return fig


# --------------------------------------------------------------------------- pipeline figure

#: The book's pipeline: (chapter, stage, library modules), in data-flow order.
PIPELINE: tuple[tuple[str, str, str], ...] = (
    ("1", "Spin physics: MEGA-PRESS density-matrix simulation", "mrs_lib.sim"),
    ("1", "Basis spectra: ON / OFF / DIFF per metabolite", "mrs_lib.sim.basis"),
    ("2", "Synthetic datasets and augmentation", "mrs_lib.synth"),
    ("3", "Architecture search (Optuna): CNN, FCNN, YAE", "mrs_lib.models, mrs_lib.search"),
    ("4", "Training on 10k / 100k spectra", "mrs_lib.train"),
    ("5", "Phantom validation: the sim-to-real gap", "mrs_lib.io, mrs_lib.metrics"),
    ("6", "LCModel comparison: one quantifier interface", "mrs_lib.fit, mrs_lib.quantify"),
    ("7", "Closing the gap: external bench, randomisation, referencing", "mrs_lib.bench"),
    ("8", "Your own data: preprocessing, uncertainty, report", "mrs_lib.preprocess, .uncertainty"),
)


def pipeline_figure(stages: Sequence[tuple[str, str, str]] = PIPELINE) -> Figure:
    """Draw the book's pipeline (spin physics to quantifying your own data) as a flow chart.

    One box per stage, top to bottom in data-flow order, each labelled with its
    chapter and the library modules that implement it. Used by the introduction.
    """
    n = len(stages)
    fig, ax = plt.subplots(figsize=(7.5, 0.62 * n + 0.2))
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    ax.set_xlim(0, 10)
    ax.set_ylim(n - 0.5, -0.55)
    ax.axis("off")
    colours = plt.get_cmap("viridis")
    for i, (chapter, title, modules) in enumerate(stages):
        face = colours(0.1 + 0.75 * i / max(n - 1, 1))
        ax.text(
            0.15,
            i,
            title,
            ha="left",
            va="center",
            fontsize=10,
            color="white" if i < 0.7 * n else "black",
            bbox={"boxstyle": "round,pad=0.45", "facecolor": face, "edgecolor": "none"},
        )
        ax.text(5.9, i - 0.12, f"chapter {chapter}", ha="left", va="center", fontsize=9.5)
        ax.text(5.9, i + 0.2, modules, ha="left", va="center", fontsize=8, family="monospace")
        if i < n - 1:
            ax.annotate(
                "",
                xy=(0.45, i + 0.72),
                xytext=(0.45, i + 0.28),
                arrowprops={"arrowstyle": "-|>", "color": "0.35", "lw": 1.4},
            )
    return fig


__all__ = [
    "EDIT_OFF_CHOICES",
    "MAX_VIEWS",
    "PIPELINE",
    "STATIC_ENV_VAR",
    "LiveExplorer",
    "StaticExplorer",
    "WidgetParamError",
    "editing_profile_figure",
    "explore",
    "outside_axes",
    "pipeline_figure",
    "render_png",
    "shared_limits",
    "static_mode",
]
