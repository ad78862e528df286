"""The IVR call flows, one module each; `ivr.app.build_routes` maps FastAGI script names to them."""
