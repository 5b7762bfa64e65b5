"""The dictionary service: decks, word cards, pronunciation audio, spaced-repetition reviews."""
