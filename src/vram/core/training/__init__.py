"""Training memory per GPU: settings, model states, optimizers, LoRA, activations, sharding."""
