"""keras-tuner searches: which oracle, what budget, where the trials are kept. Search spaces live in models/."""
