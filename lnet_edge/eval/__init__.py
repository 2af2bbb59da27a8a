"""Segmentation metrics and evaluation of any runner on image/mask folders."""
