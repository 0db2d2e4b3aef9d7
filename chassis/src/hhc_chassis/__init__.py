"""The chassis: platform pieces every service uses, written once (design.md, "Platform pieces")."""
