"""Routes of imports (being written)."""

from fastapi import APIRouter

router = APIRouter()
