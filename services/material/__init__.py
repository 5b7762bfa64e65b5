"""The material service: the file library by subject and grade, access control, previews
and thumbnails, "studied" marks."""
