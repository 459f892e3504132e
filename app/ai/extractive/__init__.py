"""The extractive summariser: no language model, the transcript's own sentences picked,
ranked and quoted with the labels they are cited by (app/ai/providers/extractive.py)."""
