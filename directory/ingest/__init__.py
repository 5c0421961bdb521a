"""Importers: official and council files in, validated `ServiceRecord`s out."""
