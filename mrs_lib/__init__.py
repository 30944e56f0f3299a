"""mrs_lib: the library behind the executable book on deep-learning GABA quantification.

The modules follow the book's pipeline (see the introduction chapter):

* :mod:`mrs_lib.types`, :mod:`mrs_lib.spectrum` - names, constants and the FID/spectrum object
* :mod:`mrs_lib.io` - NIfTI-MRS and LCModel files (the only place conventions are converted)
* :mod:`mrs_lib.data` - registry of external reference files
* :mod:`mrs_lib.scale` - the ``MRS_SCALE=tiny|book|paper`` switch
* :mod:`mrs_lib.cli` - the ``mrs`` command (also ``python -m mrs_lib``)
"""

from __future__ import annotations

from .errors import DataRegistryError, LCModelFatalError, MRSDataError, MRSError, MRSFormatError
from .spectrum import EditedSpectra, Spectrum
from .types import EDIT_STATES, METABOLITES, EditState, Metabolite

__version__ = "0.1.0"

__all__ = [
    "EDIT_STATES",
    "METABOLITES",
    "DataRegistryError",
    "EditState",
    "EditedSpectra",
    "LCModelFatalError",
    "MRSDataError",
    "MRSError",
    "MRSFormatError",
    "Metabolite",
    "Spectrum",
    "__version__",
]
