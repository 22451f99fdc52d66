"""What a patch carries to strangers: patches embedded in renders, bundles, and the confinement
that keeps a shared patch from reading outside its folder. ``opening`` reads any of them."""
