"""MXNet ``Monitor`` subclasses that log to TensorBoard (gradients, weights, activations): coming next."""
