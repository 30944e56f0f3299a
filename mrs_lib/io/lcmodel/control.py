"""The LCModel control file: the ``$LCMODL`` namelist LCModel reads on standard input."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MRSDataError
from ._text import PathLike, format_value

#: Control-file ($LCMODL) keys this writer accepts (LCModel manual; unknown keys are fatal there).
CONTROL_KEYS: frozenset[str] = frozenset(
    """
    ALPBMN ALPBMX ALPBST ALPSMN ALPSMX ATTH2O ATTMET CHCOMB CHKEEP CHOMIT CHRATO CHSIMU CHUSE1
    CONREL DEGPPM DEGZER DELTAT DESDSH DKNTMN DOECC DOREFS DOWS ECHOT FILBAS FILCOO FILCOR
    FILCSV FILH2O FILPRI FILPS FILRAW FILTAB HZPPPM ICOLEN ICOLST IPAGE2 IROWEN IROWST ISLICE
    KEY LCOORD LCORAW LCSV LPRINT LPS LTABLE N1HMET SUBBAS NAMREL NCOMBI NDCOLS NDROWS NDSLIC
    NEACH NKEEP NOBASE NOMIT NRATIO NREFPK NSIMUL NUNFIL NUSE1 OWNER PGNORM PPMEND PPMGAP
    PPMREF PPMSHF PPMST RFWHM RPRBMN RPRBMX SDDEGP SDDEGZ SHIFMN SHIFMX SPTYPE SRCH2O SRCRAW
    SAVDIR TITLE VITRO WCONC WSMET WSPPM
    """.split()
)

# Array keys and the count key LCModel needs beside them.
_ARRAY_COUNTS: dict[str, str] = {
    "CHCOMB": "NCOMBI",
    "CHOMIT": "NOMIT",
    "CHUSE1": "NUSE1",
    "CHKEEP": "NKEEP",
    "CHRATO": "NRATIO",
    "CHSIMU": "NSIMUL",
}


def control_text(*, extra_keys: Iterable[str] = (), **keys: Any) -> str:
    """The ``$LCMODL ... $END`` namelist for ``keys`` (case-insensitive names).

    Unknown keys raise :class:`MRSDataError` naming the key (LCModel itself
    stops on them); a parameter of your LCModel version that is missing from
    :data:`CONTROL_KEYS` can be allowed with ``extra_keys=("NAME",)``. Sequences become
    indexed entries (``chcomb=["NAA+NAAG"]`` -> ``CHCOMB(1)='NAA+NAAG'``) and
    the matching count (``NCOMBI``) is filled in when not given; ``PPMGAP``
    takes pairs. ``NSIMUL`` is a plain count: pass ``nsimul=0`` for MM-free data.
    """
    upper = {k.upper(): v for k, v in keys.items()}
    if len(upper) != len(keys):
        raise MRSDataError(f"control keys given twice (case-insensitive): {sorted(keys)}")
    allowed = CONTROL_KEYS | {k.upper() for k in extra_keys}
    unknown = sorted(k for k in upper if k not in allowed)
    if unknown:
        raise MRSDataError(
            f"LCModel control key {unknown[0]!r} is not a known $LCMODL parameter "
            f"(unknown keys are fatal in LCModel; known: mrs_lib.io.lcmodel.CONTROL_KEYS)"
        )
    items: dict[str, object] = {}
    for key, value in upper.items():
        if isinstance(value, (list, tuple, np.ndarray)) and not isinstance(value, str):
            seq = list(value)
            if key == "PPMGAP":
                for j, pair in enumerate(seq, start=1):
                    if len(pair) != 2:
                        raise MRSDataError(
                            f"control key PPMGAP: expected (high, low) pairs, got {pair!r}"
                        )
                    items[f"PPMGAP(1,{j})"], items[f"PPMGAP(2,{j})"] = (
                        float(pair[0]),
                        float(pair[1]),
                    )
                continue
            for j, v in enumerate(seq, start=1):
                items[f"{key}({j})"] = v
            count_key = _ARRAY_COUNTS.get(key)
            if count_key:
                given = upper.get(count_key)
                if given is None:
                    items[count_key] = len(seq)
                elif int(given) != len(seq):
                    raise MRSDataError(
                        f"control key {count_key}={given} but {key} has {len(seq)} entries"
                    )
        else:
            items[key] = value
    for key in ("NUNFIL", "DELTAT", "HZPPPM"):
        if key in items:
            v = items[key]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not v > 0:
                raise MRSDataError(f"control key {key}: expected a positive number, got {v!r}")
    body = "\n".join(f" {k}={format_value(k, v)}" for k, v in items.items())
    return f" $LCMODL\n{body}\n $END\n"


def write_control(path: PathLike | None, *, extra_keys: Iterable[str] = (), **keys: Any) -> str:
    """Write (when ``path`` is given) and return the LCModel control file.

    The text is that of :func:`control_text`.

    LCModel reads it on standard input: ``lcmodel < path``. Typical keys for a
    MEGA-PRESS DIFF fit: ``filraw``, ``filbas``, ``filtab``, ``ltable=7``,
    ``filcoo``, ``lcoord=9``, ``nunfil``, ``deltat``, ``hzpppm``,
    ``sptype='mega-press-3'``, ``ppmst=4.2``, ``ppmend=1.95``, ``nsimul=0``.
    """
    text = control_text(extra_keys=extra_keys, **keys)
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return text
