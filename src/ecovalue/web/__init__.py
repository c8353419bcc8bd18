"""The web platform: server-rendered, bilingual (中文 default, English) pages on the platform's services.

``mount_web(app)`` adds the pages, the map tiles, the page data endpoints and the bundled
static assets (MapLibre GL JS, ECharts, terra-draw; built by ``make web-assets``) to the
FastAPI app that ``ecovalue serve`` runs. Pages call the platform's service functions,
which do the scoping; they never read the tables themselves (docs/web.md).
"""
