"""Shared by the tests of the built-in LCModel-style fit (``test_fit_lcm*``)."""

from __future__ import annotations

import numpy as np

TRUE = np.array([1.0, 0.3, 0.4, 0.8, 1.2])  # Cr, GABA, Gln, Glu, NAA of the toy basis
# One start at the truth's neighbourhood keeps the many-fit tests fast.
QUICK = dict(n_starts=1, start_shifts_ppm=(0.0,), start_phases_deg=(0.0,))
