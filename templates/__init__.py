"""Source templates the code generator fills (installed as ``azcompile.templates``)."""
