"""The FastAGI edge: the dialplan asks the controller here (`AGI(agi://${ACD_AGI}/<route>)`).

server.py   the FastAGI listener: reads each connection's AGI environment, runs the route
channel.py  one AGI session: read and set channel variables, hang-up detection
routes.py   the routes; each reads the channel and calls the service layer (`acd.service`),
            like `api/` does for HTTP. No rules here.
"""
