"""mrs_lib.widgets.explore: one call, a live widget or a client-side stack of precomputed views.

Oracles: the product rule (a static widget holds prod(len(values)) views, in
row-major order), byte equality of each view with a direct render of the same
values (Agg PNGs are deterministic), and the jsdlink wiring: propagating each
control's ``index`` to its stacks' ``selected_index`` (what the browser does)
selects the view of exactly the chosen values.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import ipywidgets as ipw
import matplotlib as mpl
import numpy as np
import pytest

mpl.use("Agg")
import matplotlib.pyplot as plt

from mrs_lib import widgets
from mrs_lib.widgets import (
    LiveExplorer,
    StaticExplorer,
    WidgetParamError,
    explore,
    render_png,
)

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"lw": [1, 2.5, 10], "phase": {"0°": 0, "90°": 90}}


def draw(lw: float, phase: float):
    """A figure whose pixels depend on both values."""
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, lw])
    ax.set_title(f"{lw} {phase}")
    return fig


def draw_with_pyplot(lw: float) -> None:
    """Draws into a new pyplot figure and returns nothing."""
    plt.figure(figsize=(2, 1.5))
    plt.plot([0, lw])


@pytest.fixture(autouse=True)
def _no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "explore left figures open"


def _propagate_links(w: StaticExplorer) -> None:
    """Do in Python what the browser does with the jsdlinks: control.index -> stack index."""
    for link in w.links:
        (src, src_attr), (dst, dst_attr) = link.source, link.target
        setattr(dst, dst_attr, getattr(src, src_attr))


def test_static_mode_has_one_view_per_combination() -> None:
    w = explore(draw, PARAMS, precompute=True, dpi=40)
    assert isinstance(w, StaticExplorer)
    assert len(w.views) == math.prod(len(v) for v in PARAMS.values()) == 6
    assert w.combinations[0] == {"lw": 1, "phase": 0}
    assert w.combinations[1] == {"lw": 1, "phase": 90}  # row-major: last parameter fastest
    assert all(bytes(v.value).startswith(b"\x89PNG") for v in w.views)
    assert len({bytes(v.value) for v in w.views}) == 6  # every combination looks different
    # each view is exactly the figure of its combination
    for values, view in zip(w.combinations, w.views, strict=True):
        assert view.value == render_png(draw, values, dpi=40)
    # one jsdlink for the outer stack, one per inner stack
    assert len(w.links) == 1 + 3
    assert isinstance(w.controls["lw"], ipw.SelectionSlider)
    assert isinstance(w.controls["phase"], ipw.Dropdown)
    assert w.controls["lw"].continuous_update is True


def test_static_links_select_the_chosen_view() -> None:
    w = explore(draw, PARAMS, precompute=True, dpi=40)
    for i_lw, i_ph in [(0, 0), (2, 1), (1, 0), (1, 1)]:
        w.controls["lw"].index = i_lw
        w.controls["phase"].index = i_ph
        _propagate_links(w)
        assert w.current_view is w.views[2 * i_lw + i_ph]
        assert w.combinations[2 * i_lw + i_ph] == w.values


def test_static_single_parameter_and_defaults() -> None:
    w = explore(draw_with_pyplot, {"lw": [1, 2, 3, 4]}, precompute=True, defaults={"lw": 3}, dpi=40)
    assert len(w.views) == 4
    assert w.values == {"lw": 3}
    assert w.current_view is w.views[2]  # initial selected_index follows the default


def test_numpy_values_become_clean_slider_labels() -> None:
    w = explore(draw_with_pyplot, {"lw": np.linspace(0.5, 2.0, 4)}, precompute=False)
    assert [label for label, _ in w.controls["lw"].options] == ["0.5", "1", "1.5", "2"]
    assert w.values == {"lw": 0.5} and type(w.values["lw"]) is float


def test_live_mode_recomputes_on_change() -> None:
    calls: list[dict[str, float]] = []

    def fn(lw: float, phase: float):
        calls.append({"lw": lw, "phase": phase})
        return draw(lw, phase)

    w = explore(fn, PARAMS, precompute=False)
    assert isinstance(w, LiveExplorer)
    assert calls == [{"lw": 1, "phase": 0}]  # drawn once at construction
    w.controls["lw"].value = 10
    w.controls["phase"].value = 90
    assert calls[1:] == [{"lw": 10, "phase": 0}, {"lw": 10, "phase": 90}]
    assert w.controls["lw"].continuous_update is False
    assert isinstance(w.out, ipw.Output)


def test_mode_follows_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "1")
    assert isinstance(explore(draw_with_pyplot, {"lw": [1, 2]}, dpi=30), StaticExplorer)
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "0")
    assert isinstance(explore(draw_with_pyplot, {"lw": [1, 2]}), LiveExplorer)
    monkeypatch.delenv(widgets.STATIC_ENV_VAR)
    assert isinstance(explore(draw_with_pyplot, {"lw": [1, 2]}), LiveExplorer)
    # precompute= overrides the environment
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "1")
    assert isinstance(explore(draw_with_pyplot, {"lw": [1, 2]}, precompute=False), LiveExplorer)


@pytest.mark.parametrize(
    ("params", "kwargs", "match"),
    [
        ({}, {}, "non-empty mapping"),
        ({"lw": []}, {}, "at least one value"),
        ({"lw": [1, 1, 2]}, {}, "distinct"),
        ({"lw": "123"}, {}, "sequence of values"),
        ({"not a name": [1]}, {}, "identifier"),
        ({"lw": [1, 2]}, {"defaults": {"lw": 5}}, "not one of"),
        ({"lw": [1, 2]}, {"defaults": {"x": 1}}, "unknown parameters"),
        (
            {"lw": range(8), "phase": range(8)},
            {"precompute": True},
            "64 combinations .* max_views=60",
        ),
    ],
)
def test_bad_params_raise_clear_errors(params, kwargs, match) -> None:
    with pytest.raises(WidgetParamError, match=match):
        explore(draw_with_pyplot, params, **kwargs)


def test_too_many_views_fails_before_rendering() -> None:
    calls = []

    def fn(a: int, b: int) -> None:
        calls.append((a, b))

    with pytest.raises(WidgetParamError, match="exceed"):
        explore(fn, {"a": range(10), "b": range(7)}, precompute=True)
    assert calls == []


@pytest.mark.parametrize("precompute", [True, False])
def test_fn_errors_propagate(precompute: bool) -> None:
    def broken(lw: float):
        plt.figure()
        raise ZeroDivisionError("inside fn")

    with pytest.raises(ZeroDivisionError, match="inside fn"):
        explore(broken, {"lw": [1, 2]}, precompute=precompute)


@pytest.mark.parametrize("precompute", [True, False])
def test_fn_without_figure_is_an_error(precompute: bool) -> None:
    with pytest.raises(WidgetParamError, match="drew no figure"):
        explore(lambda lw: None, {"lw": [1, 2]}, precompute=precompute)


def test_pipeline_figure_has_a_box_per_stage() -> None:
    fig = widgets.pipeline_figure()
    try:
        boxes = [t for t in fig.axes[0].texts if t.get_bbox_patch() is not None]
        assert [b.get_text() for b in boxes] == [s[1] for s in widgets.PIPELINE]
        assert len(widgets.PIPELINE) == 9
    finally:
        plt.close(fig)


def _run_text_notebook(path: Path) -> list[object]:
    """Execute the ``{code-cell}`` blocks of a MyST text notebook; return each cell's last value."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", path.read_text(), re.M | re.S)
    assert cells, f"no code cells in {path}"
    namespace: dict[str, object] = {"__name__": "__main__"}
    results: list[object] = []
    for source in cells:
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, str(path), "exec"), namespace)
        if last is not None:
            expr = ast.Expression(last.value)
            results.append(eval(compile(expr, str(path), "eval"), namespace))
    return results


def test_intro_chapter_runs_and_its_widget_fits_the_static_book(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """book/intro.md (a text notebook nbmake skips) runs; its widget has 10 x 3 <= 60 views.

    Run live (one figure) to stay fast; the book build renders the 30 static views.
    """
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "0")
    before = set(plt.get_fignums())
    try:
        results = _run_text_notebook(ROOT / "book" / "intro.md")
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)
    explorers = [r for r in results if isinstance(r, LiveExplorer)]
    assert len(explorers) == 1
    w = explorers[0]
    assert list(w.controls) == ["linewidth_hz", "phase_deg"]
    assert w.values == {"linewidth_hz": 1, "phase_deg": 0}
    n_views = math.prod(len(c.options) for c in w.controls.values())
    assert n_views == 30 <= widgets.MAX_VIEWS


# --------------------------------------------------------------------------- views inside axes


def _fig(ylim, *ys, xlim=(0, 3), x=(0, 1, 2, 3, 4)):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    for y in ys:
        ax.plot(x, y)
    ax.set(xlim=xlim, ylim=ylim, title="t")
    return fig


@pytest.mark.parametrize(
    ("ylim", "ys", "clipped"),
    [
        ((-1, 5), [(0, 1, 2, 3, 99)], False),  # x = 4 lies outside xlim: a deliberate crop
        ((-1, 2.5), [(0, 1, 2, 3, 0)], True),  # the peak at x = 3 is cut off
        ((5, -1), [(0, 1, 2, 3, 0)], False),  # an inverted axis is the same range
        ((-1, 5), [(0, 1, np.nan, 3, 0), (0, -2, 0, 0, 0)], True),  # the second line dips
    ],
)
def test_outside_axes_finds_clipped_lines(ylim, ys, clipped) -> None:
    fig = _fig(ylim, *ys)
    try:
        problems = widgets.outside_axes(fig)
        assert bool(problems) is clipped, problems
    finally:
        plt.close(fig)


def test_outside_axes_checks_scatter_and_bars_not_axes_lines() -> None:
    fig, (a, b) = plt.subplots(1, 2)
    try:
        a.scatter([0, 1], [0, 1])
        a.axvline(50)  # axes coordinates in y, not data: ignored
        a.set(xlim=(-1, 2), ylim=(-1, 2))
        b.barh([0, 1], [0.5, -0.9])
        b.set(xlim=(-1, 1), ylim=(-0.6, 1.6))
        assert widgets.outside_axes(fig) == []
        b.set_xlim(-0.5, 1)
        a.set_ylim(-1, 0.5)
        problems = widgets.outside_axes(fig)
        assert len(problems) == 2 and "scatter" in problems[0] and "bar" in problems[1]
    finally:
        plt.close(fig)


def test_shared_limits_hold_every_curve() -> None:
    lo, hi = widgets.shared_limits([np.array([0.0, 2.0, np.nan]), [-1.0, 1.0]], pad=0.1)
    assert (lo, hi) == pytest.approx((-1.3, 2.3))
    with pytest.raises(WidgetParamError, match="no finite"):
        widgets.shared_limits([[np.nan]])


@pytest.mark.parametrize("precompute", [True, False])
def test_explore_inside_axes_rejects_a_clipping_view(precompute: bool) -> None:
    def peak(height: float):
        return _fig((-1, 5), (0, 1, height, 1, 0))

    w = explore(peak, {"height": [1, 4]}, precompute=precompute, inside_axes=True, dpi=30)
    assert len(getattr(w, "views", [None])) == (2 if precompute else 1)
    with pytest.raises(WidgetParamError, match=r"clips its data .*height.* 9"):
        explore(peak, {"height": [1, 9]}, precompute=True, inside_axes=True, dpi=30)


def test_editing_profile_widget_views_lie_inside_their_axes() -> None:
    """Every view the chapter-1 widget can show: titled, nothing clipped, bars = ON - OFF."""
    from mrs_lib.sim.editing import EDITING_TARGETS, inverted_fraction

    for centre in (1.8, 1.85, 1.9, 1.95, 2.0):
        for duration in (10.0, 15.0, 20.0, 25.0):
            for off in widgets.EDIT_OFF_CHOICES.values():
                fig = widgets.editing_profile_figure(centre, duration, off)
                try:
                    assert widgets.outside_axes(fig) == []
                    assert all(ax.get_title() for ax in fig.axes)
                    bars = [p.get_width() for p in fig.axes[1].patches]
                    on, o = inverted_fraction(centre, duration), inverted_fraction(off, duration)
                    expected = [on[k] - o[k] for k in EDITING_TARGETS]
                    np.testing.assert_allclose(bars, expected, atol=1e-12)
                finally:
                    plt.close(fig)
