"""Transcript exports: TXT, SRT, VTT, DOCX, JSON and PDF, provided as exporter plugins.

service.py loads a transcript into an ExportDocument (document.py) and hands it to an
exporter (base.py); exporters read only that document, never the database.
"""
