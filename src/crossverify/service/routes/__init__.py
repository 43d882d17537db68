"""The service's routes, one module per role: each builds an ``APIRouter`` from the
:class:`~crossverify.service.dependencies.Context`."""
