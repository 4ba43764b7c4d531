"""The image analysis of Portside's offline vulnerability scanner.

Pure library code, no database and no HTTP: the caller streams each layer blob in, and gets back
the software found in the image::

    layers.read_layer(digest, media_type, chunks)   one layer -> LayerFiles (files of interest,
                                                     whiteouts), streamed, bounded by Limits
    filesystem.merge(layers)                        the image's final view of those files
    catalogers.osrelease.detect(files)              the distribution (os-release)
    catalog.catalog(files, os_release)              every package found: deb, apk, rpm, pypi, npm

A hostile or broken layer raises :class:`portside.security.analysis.limits.LayerRejected`.
"""
