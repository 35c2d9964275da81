"""Generated code: one backend-neutral lowering (:mod:`.lower`), one small module per target
(:mod:`matcalc.printing.numpy`, :mod:`.torch`, :mod:`.jax`, :mod:`.array_api`), named in :mod:`.targets`."""
