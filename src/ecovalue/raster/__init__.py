"""Raster engine: the only code that opens raster files (``io``), grid geometry
(``grid``), zonal sums (``zonal``) and hydrology kernels (``hydrology``)."""
