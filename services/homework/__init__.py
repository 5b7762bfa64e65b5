"""The homework service: assignments, submissions with files, grading."""
