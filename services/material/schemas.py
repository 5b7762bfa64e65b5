"""The material API's request and response models (pydantic): `XCreate`, `XUpdate`, `XPublic`,
with the limits the service checks (see `services/lesson/schemas.py`)."""
