"""Factory functions that build each problem's Keras model, and the validators that police budgets."""
