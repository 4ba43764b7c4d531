"""The registry's token server (distribution's token specification): Portside decides who may
pull, push and delete where, and signs the registry's tokens with a key it keeps."""
