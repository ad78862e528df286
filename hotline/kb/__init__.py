"""The knowledge base (知识库): articles owned by member units, reviewed, searched in Chinese, and measured
by the one-time answer rate (Ziyang art. 12, 16-18; Foshan art. 23, 27-29, 50-52).

Modules: `state` (review life cycle), `models` (tables), `services` (logic; the 22-hour review deadline on
the shared SLA calendar), `analyzer` (jieba + synonyms.txt + places.txt), `index` (in-memory BM25, title
boosted), `search` (the live index kept in step with the DB), `schemas` + `resources` (HTTP API), `runner`
(the periodic auto-accept).
"""
