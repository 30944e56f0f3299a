"""A one-page report per scan (PNG and self-contained HTML), like Gannet's and Osprey's pages.

:func:`write_report` draws, for one :class:`~mrs_lib.scans.ScanResult`: the
OFF spectrum before (coil-combined, unaligned average) and after
preprocessing, the frequency and phase corrections per transient, the
rejection scores, the fit (LCModel-style fitter) or the network's
reconstruction (the YAE of an ensemble's domain check) over the data with the
residual, and the table of ratios to Cr with their uncertainties and the
out-of-domain flags. The HTML embeds the PNG (base64), so one file travels.
``mrs quantify ... --report DIR`` writes one pair per scan.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .preprocess.plots import plot_alignment, plot_rejection
from .scans import ScanResult


@dataclass(frozen=True)
class Curves:
    """Data and model on a ppm axis, one entry per sub-spectrum drawn (the residual: their
    difference)."""

    ppm: list[np.ndarray]
    data: list[np.ndarray]
    model: list[np.ndarray]
    labels: tuple[str, ...]
    title: str


def curves_of(res: ScanResult, quantifier: Any = None) -> Curves | None:
    """The fit (LCModel-style fits kept with ``keep_fits=True``) or the network reconstruction."""
    fits = res.result.extra.get("fits") if res.result.extra else None
    if fits:
        per = fits[0]
        names = [m for m in ("off", "diff") if m in per] or list(per)
        return Curves(
            [np.asarray(per[m].ppm) for m in names],
            [np.asarray(per[m].data).real for m in names],
            [np.asarray(per[m].fit).real for m in names],
            tuple(m.upper() for m in names),
            f"{res.result.method} fit over the data (residual below)",
        )
    recon = getattr(quantifier, "reconstruction", None)
    if recon is not None:
        out = recon(res.preprocessing.spectra)
        if out is not None:
            ppm, x, rec, channels = out
            return Curves(
                [ppm] * len(channels),
                list(np.asarray(x)),
                list(np.asarray(rec)),
                tuple(channels),
                "network input and its YAE reconstruction (residual below)",
            )
    return None


def _rows(res: ScanResult) -> list[tuple[str, str, str, str]]:
    """Table rows ``(metabolite/Cr, value, uncertainty, 95 % interval)``."""
    d = res.result.diagnostics
    out = []
    unc = res.uncertainties or {}
    sd = d.get("ratio_to_cr_sd")
    interval = d.get("ratio_to_cr_interval_95") or [[(np.nan, np.nan)] * len(unc)]
    others = [m for m in res.result.metabolites if m != "Cr"]
    for i, m in enumerate(others):
        v = res.ratios_to_cr.get(m)
        val = "n/a" if v is None else f"{v:.3f}"
        if sd is not None:
            u = f"± {sd[0][i]:.3f}"
            lo, hi = interval[0][i]
            iv = f"[{lo:.3f}, {hi:.3f}]"
        else:
            u = "" if unc.get(m) is None else f"{unc[m]:.0f} %"
            iv = ""
        out.append((f"{m}/Cr", val, u, iv))
    return out


def _figure(res: ScanResult, curves: Curves | None) -> Any:
    import matplotlib.pyplot as plt

    pre = res.preprocessing
    fig = plt.figure(figsize=(11.7, 7.8), constrained_layout=True)
    gs = fig.add_gridspec(3, 3, height_ratios=[1.0, 1.0, 0.22])
    like = pre.scan.like()
    ax = fig.add_subplot(gs[0, 0])
    for key, label in (("unaligned_average", "before"), ("final", "after")):
        fid = pre.stages[key][0]
        ppm = like.ppm_axis(fid.shape[-1])
        spec = np.fft.fftshift(np.fft.fft(fid))
        sel = (ppm >= 0.5) & (ppm <= 5.5)
        norm = np.abs(spec[(ppm >= 1.8) & (ppm <= 4.2)]).max() or 1.0
        ax.plot(ppm[sel], spec[sel].real / norm, lw=0.7, label=label)
    ax.set_xlim(5.5, 0.5)
    ax.set_ylim(-1.3, 1.3)
    ax.set_xlabel("ppm")
    ax.set_title(
        "OFF before / after preprocessing\n(each scaled to its 1.8-4.2 ppm maximum)", fontsize=9
    )
    ax.legend(fontsize=7)
    plot_alignment(pre, fig.add_subplot(gs[0, 1]))
    plot_rejection(pre, fig.add_subplot(gs[0, 2]))
    ax = fig.add_subplot(gs[1, :2])
    if curves is None:
        ax.text(0.5, 0.5, "no fit curve for this method", ha="center", va="center")
        ax.axis("off")
    else:
        step = 1.2 * max(float(np.abs(d).max()) for d in curves.data) or 1.0
        lo = min(float(p.min()) for p in curves.ppm)
        hi = max(float(p.max()) for p in curves.ppm)
        for i, lab in enumerate(curves.labels):
            off = -i * 1.6 * step
            ppm, data, model = curves.ppm[i], curves.data[i], curves.model[i]
            first = i == 0
            ax.plot(ppm, data + off, color="k", lw=0.6, label="data" if first else None)
            ax.plot(ppm, model + off, color="C3", lw=0.8, label="model" if first else None)
            ax.plot(
                ppm,
                data - model + off - 0.6 * step,
                color="0.5",
                lw=0.5,
                label="residual" if first else None,
            )
            ax.text(hi - 0.02, off + 0.3 * step, lab, fontsize=8)
        ax.set_xlim(hi, lo)
        ax.set_yticks([])
        ax.set_xlabel("ppm")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title(curves.title)
    ax = fig.add_subplot(gs[1, 2])
    ax.axis("off")
    rows = _rows(res)
    table = ax.table(
        cellText=[list(r[1:]) for r in rows],
        rowLabels=[r[0] for r in rows],
        colLabels=["ratio", "uncertainty", "95 % interval"],
        colWidths=[0.22, 0.22, 0.45],
        loc="upper center",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    if res.result.diagnostics.get("ratio_to_cr_sd") is not None:
        kind = "ensemble mean, calibrated SD, 95 % interval"
    else:
        kind = res.uncertainty_kind or "no uncertainty"
    ax.set_title(f"ratios to Cr\n({kind})", fontsize=8)
    ax = fig.add_subplot(gs[2, :])
    ax.axis("off")
    flags = res.flags
    if flags is None:
        text = "out-of-domain check: not applicable to this method"
    elif not flags:
        text = "out-of-domain check: none (inside the training domain)"
    else:
        text = "OUT OF DOMAIN:\n" + "\n".join(f"- {f}" for f in flags)
    ax.text(0, 1, text, va="top", fontsize=8, wrap=True, color="C3" if flags else "k")
    fig.suptitle(f"{res.label} - {res.result.method}", fontsize=11)
    return fig


def _stem(label: str) -> str:
    name = re.sub(
        r"\.(nii\.gz|nii|rda|dat|sdat|spar|data|list|7|dcm|ima|npz)$",
        "",
        os.path.basename(label),
        flags=re.IGNORECASE,
    )
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return stem or "scan"


def _html(res: ScanResult, png: bytes) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(m)}</th><td>{esc(v)}</td><td>{esc(u)}</td><td>{esc(i)}</td></tr>"
        for m, v, u, i in _rows(res)
    )
    flags = res.flags
    if flags is None:
        flag_html = "<p class='flags'>Out-of-domain check: not applicable to this method.</p>"
    elif not flags:
        flag_html = "<p class='flags'>Out-of-domain flags: none.</p>"
    else:
        items = "".join(f"<li>{esc(f)}</li>" for f in flags)
        flag_html = f"<div class='flags bad'><b>Out-of-domain flags</b><ul>{items}</ul></div>"
    steps = "".join(
        f"<li>{esc(s.name)}{' (skipped: ' + esc(s.skipped) + ')' if s.skipped else ''}</li>"
        for s in res.preprocessing.steps
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in res.notes)
    img = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(res.label)}: {esc(res.result.method)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:2px 8px}}
.bad{{color:#b00}}</style></head><body>
<h1>{esc(res.label)}</h1>
<p>Method: <b>{esc(res.result.method)}</b>; uncertainty: {esc(res.uncertainty_kind or "none")}.</p>
<table class="results"><tr><th>ratio to Cr</th><th>value</th><th>uncertainty</th>
<th>95 % interval</th></tr>{rows}</table>
{flag_html}
<img alt="report figure" style="width:100%" src="data:image/png;base64,{img}">
<h2>Preprocessing (in order)</h2><ol>{steps}</ol>
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
</body></html>
"""


def write_report(
    res: ScanResult, directory: str | os.PathLike[str], quantifier: Any = None
) -> dict[str, Path]:
    """Write ``<scan>.png`` and ``<scan>.html`` into ``directory``; return their paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    fig = _figure(res, curves_of(res, quantifier))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    png = buf.getvalue()
    stem = _stem(res.label)
    png_path, html_path = out / f"{stem}.png", out / f"{stem}.html"
    png_path.write_bytes(png)
    html_path.write_text(_html(res, png), encoding="utf-8")
    return {"png": png_path, "html": html_path}


__all__ = ["Curves", "curves_of", "write_report"]
