"""Pure builders, one module per summary kind: NumPy in, ``Summary.Value`` protos out, no I/O."""
