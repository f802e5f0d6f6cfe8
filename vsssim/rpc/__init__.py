"""The JSON-RPC requester interface (``vsssim serve``): a backup program in any language drives
one simulated host's VSS through ``IVssBackupComponents`` calls named as Microsoft names them.

A top layer beside the command line: it calls the requester API as a requester does and adds
nothing to the model. :mod:`~vsssim.rpc.framing` reads and writes the line-delimited JSON,
:mod:`~vsssim.rpc.methods` is the one method table the server dispatches on and
:mod:`~vsssim.rpc.openrpc` describes, :mod:`~vsssim.rpc.host` is one connection's simulated host
and its object handles.
"""
