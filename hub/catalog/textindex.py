"""The full-text index in memory: postings read from the DuckDB fts index, BM25 scored per query.

DuckDB's fts extension builds the index (tokenizer, Porter stemmer, English stop words) into the tables
``fts_main_datasets.{dict,terms,docs,stats}``. Its ``match_bm25`` macro scores every row of the table,
which costs tens of milliseconds on 100k datasets; instead, after each (re)build we load the postings once
and score only the query's terms here, with the same BM25 formula as match_bm25 (k1=1.2, b=0.75, log10 idf).
A term's BM25 contribution per document depends only on the index, so it is computed at load: a query then
adds up a few numpy arrays (:meth:`match`). Queries are tokenised by the index's own ``tokenize``/``stem``.
"""

from __future__ import annotations

import math

import numpy as np


class TextIndex:
    K1, B = 1.2, 0.75

    def __init__(
        self,
        postings: dict[str, tuple[int, list[int], list[int]]],
        doc_ids: list[int],
        doc_len: list[int],
        avgdl: float,
        num_docs: int = 0,
    ):
        """``postings``: term -> (df as the fts index counts it, docids, term frequencies); ``doc_ids``: docid ->
        dataset id; ``doc_len``: docid -> length in terms."""
        self.avgdl = avgdl or 1.0
        self.num_docs = num_docs
        # term -> (dataset ids, that term's BM25 contribution for each), both numpy arrays
        self.arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        ids, lengths = np.asarray(doc_ids, dtype=np.int32), np.asarray(doc_len, dtype=np.float64)
        k1, b, n = self.K1, self.B, num_docs
        for term, (df, docids, tfs) in postings.items():
            d = np.asarray(docids, dtype=np.int64)
            tf = np.asarray(tfs, dtype=np.float64)
            idf = math.log10((n - df + 0.5) / (df + 0.5) + 1)  # DuckDB log() is base 10, as match_bm25 uses
            self.arrays[term] = (ids[d], idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[d] / self.avgdl))))

    @classmethod
    def empty(cls) -> "TextIndex":
        return cls({}, [], [], 1.0)

    @classmethod
    def load(cls, con) -> "TextIndex":
        """Read the postings of the fts index built on ``datasets`` (run right after building it)."""
        docs = con.execute("SELECT docid, name, len FROM fts_main_datasets.docs ORDER BY docid").fetchall()
        size = 1 + max((d[0] for d in docs), default=-1)
        doc_ids, doc_len = [0] * size, [0] * size
        for docid, name, length in docs:
            doc_ids[docid], doc_len[docid] = name, length
        num_docs, avgdl = con.execute("SELECT num_docs, avgdl FROM fts_main_datasets.stats").fetchone()
        postings = {}
        for term, df, docids, tfs in con.execute("""
                SELECT d.term, any_value(d.df), list(t.docid ORDER BY t.docid), list(t.tf ORDER BY t.docid)
                FROM (SELECT termid, docid, count(*)::INTEGER AS tf FROM fts_main_datasets.terms GROUP BY ALL) t
                JOIN fts_main_datasets.dict d USING (termid) GROUP BY d.term""").fetchall():
            postings[term] = (df, docids, tfs)
        return cls(postings, doc_ids, doc_len, avgdl, num_docs)

    def match(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(dataset ids, BM25 scores) of the datasets matching any of ``terms`` (already stemmed)."""
        parts = [self.arrays[t] for t in dict.fromkeys(terms) if t in self.arrays]
        if not parts:
            return np.zeros(0, dtype=np.int32), np.zeros(0)
        if len(parts) == 1:
            return parts[0]
        ids, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
        return ids, np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))

    def scores(self, terms: list[str]) -> dict[int, float]:
        """dataset id -> BM25 score for the datasets matching any of ``terms`` (already stemmed)."""
        ids, scores = self.match(terms)
        return dict(zip(ids.tolist(), scores.tolist()))
