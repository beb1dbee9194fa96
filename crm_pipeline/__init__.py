"""ServiceTitan CRM v2 into DuckDB: the plain-Python core (client, catalog, validation, storage, syncs),
with the Dagster layer in `crm_pipeline.defs` and the definitions in `crm_pipeline.definitions`."""

import pyarrow

# Arrow's bundled allocator keeps the memory of freed pages per thread; the system allocator hands it
# back. A run's pages pass through Arrow, and this keeps its peak memory lower (docs/PERFORMANCE.md).
pyarrow.set_memory_pool(pyarrow.system_memory_pool())
