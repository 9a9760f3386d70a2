"""Running many experiments at once: batched training of many small models as one tensor program."""
