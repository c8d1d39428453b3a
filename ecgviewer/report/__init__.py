"""The clinician's report: page one at true scale with the header, the attribution page, the rest
of a long recording; PDF through Qt's own writer, or PNG."""
