"""The operation registry (:mod:`matcalc.ops.registry`) and its entries:
:mod:`matcalc.ops.entrywise` (functions applied entry by entry) and
:mod:`matcalc.ops.structural` (``sum tr … kron``), registered when :mod:`matcalc`
is imported."""
