"""Service-test fixtures shared by intake's test files."""
import pytest

from services.intake.store import IntakeRepository


@pytest.fixture
def intake_repo(mongo_db):
    repository = IntakeRepository(mongo_db("intake"))
    repository.ensure_indexes()
    return repository
