"""The full-text index in memory: postings read from the DuckDB fts index, BM25 scored per query.

DuckDB's fts extension builds the index (tokenizer, Porter stemmer, English stop words) into the tables
``fts_main_datasets.{dict,terms,docs,stats}``. Its ``match_bm25`` macro scores every row of the table,
which costs tens of milliseconds on 100k datasets; instead, after each (re)build we load the postings once
(term -> dataset ids and term frequencies, as compact arrays) and score only the query's terms here, with
the same BM25 formula as match_bm25 (k1=1.2, b=0.75, log10 idf). Queries are tokenised by the index's own ``tokenize``/``stem``.
"""

from __future__ import annotations

import math
from array import array


class TextIndex:
    K1, B = 1.2, 0.75

    def __init__(self, postings: dict[str, tuple[int, array, array]], doc_ids: array, doc_len: array, avgdl: float,
                 num_docs: int = 0):
        self.postings = postings  # term -> (df as the fts index counts it, docids, term frequencies)
        self.doc_ids = doc_ids  # docid -> dataset id
        self.doc_len = doc_len
        self.avgdl = avgdl or 1.0
        self.num_docs = num_docs

    @classmethod
    def empty(cls) -> "TextIndex":
        return cls({}, array("i"), array("i"), 1.0)

    @classmethod
    def load(cls, con) -> "TextIndex":
        """Read the postings of the fts index built on ``datasets`` (run right after building it)."""
        docs = con.execute("SELECT docid, name, len FROM fts_main_datasets.docs ORDER BY docid").fetchall()
        size = 1 + max((d[0] for d in docs), default=-1)
        doc_ids, doc_len = array("i", [0] * size), array("i", [0] * size)
        for docid, name, length in docs:
            doc_ids[docid], doc_len[docid] = name, length
        num_docs, avgdl = con.execute("SELECT num_docs, avgdl FROM fts_main_datasets.stats").fetchone()
        postings = {}
        for term, df, docids, tfs in con.execute("""
                SELECT d.term, any_value(d.df), list(t.docid ORDER BY t.docid), list(t.tf ORDER BY t.docid)
                FROM (SELECT termid, docid, count(*)::INTEGER AS tf FROM fts_main_datasets.terms GROUP BY ALL) t
                JOIN fts_main_datasets.dict d USING (termid) GROUP BY d.term""").fetchall():
            postings[term] = (df, array("i", docids), array("i", tfs))
        return cls(postings, doc_ids, doc_len, avgdl, num_docs)

    def scores(self, terms: list[str]) -> dict[int, float]:
        """dataset id -> BM25 score for the datasets matching any of ``terms`` (already stemmed)."""
        k1, b, n, avgdl = self.K1, self.B, self.num_docs, self.avgdl
        out: dict[int, float] = {}
        doc_ids, doc_len = self.doc_ids, self.doc_len
        for term in set(terms):
            posting = self.postings.get(term)
            if posting is None:
                continue
            df, docids, tfs = posting
            idf = math.log10((n - df + 0.5) / (df + 0.5) + 1)  # DuckDB log() is base 10, as match_bm25 uses
            for docid, tf in zip(docids, tfs):
                dataset = doc_ids[docid]
                out[dataset] = out.get(dataset, 0.0) + idf * (tf * (k1 + 1) /
                                                             (tf + k1 * (1 - b + b * doc_len[docid] / avgdl)))
        return out
