"""Training side of ttcc: corpus, PyTorch reference model, training, evaluation, export."""
