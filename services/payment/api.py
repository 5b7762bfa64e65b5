"""The payment API's routes: thin, they parse, call a use case of `service.py` and return a schema."""
from fastapi import APIRouter

router = APIRouter(tags=["payment"])
