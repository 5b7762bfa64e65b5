"""The payment service's rules, in plain functions and classes without I/O, so that unit tests
need neither a database nor a bus (see `services/lesson/domain.py`)."""
