"""The pool that binds tasks to workers late (pipes/_dispatch.py), as plain data: no Dask."""

from dagreuse.pipes._dispatch import Pool, Wait

TWO = {"a": 1, "b": 1}  # two workers, one thread each


def add(pool, name, *, waits=(), priority=0, node=None, parents=None):
    args = [Wait(k) for k in waits]
    return pool.add(name, None, None, args, list(parents or waits), priority, node=node)


def names(taken):
    return [(t.name, w) for t, w, _ in taken]


def test_a_task_waits_for_its_parents_and_gets_their_futures():
    pool = Pool(limit=4)
    add(pool, "split", node="s", priority=9)
    add(pool, "vec", waits=["s"], node="v", priority=5)
    [(split, _, args)] = list(pool.take(TWO))
    assert (split.name, args) == ("split", [])
    assert pool.runnable() == 1 and list(pool.take(TWO)) == []  # vec waits for the split
    pool.finished(split, "future of s")
    [(vec, _, args)] = list(pool.take(TWO))
    assert vec.name == "vec" and args == ["future of s"]
    assert "s" not in pool.done  # nothing here needs it any more: the sent task holds it


def test_priority_first_then_parents_on_the_worker_then_age():
    pool = Pool(limit=1)
    add(pool, "leaf")
    add(pool, "inner", priority=3)
    assert names(pool.take(TWO)) == [("inner", "a")]

    pool = Pool(limit=2)
    pool.where.update(p="b", q="a")
    pool.busy.update(a=1)  # b is the less busy worker, so it chooses first
    add(pool, "older leaf", parents=["q"])
    add(pool, "leaf reading b's data", parents=["p"])
    assert names(pool.take(TWO)) == [("leaf reading b's data", "b")]

    pool = Pool(limit=1)
    add(pool, "older")
    add(pool, "newer")
    assert names(pool.take(TWO)) == [("older", "a")]


def test_room_is_two_tasks_per_thread_and_limit_in_all():
    pool = Pool(limit=5)
    for i in range(8):
        add(pool, f"t{i}")
    taken = names(pool.take({"a": 2, "b": 1}))
    assert len(taken) == 5
    assert [w for _, w in taken].count("a") == 3 and [w for _, w in taken].count("b") == 2
    pool = Pool(limit=8)
    for i in range(8):
        add(pool, f"t{i}")
    assert len(list(pool.take({"a": 2, "b": 1}))) == 6  # 2 x 2 + 2 x 1
    assert names(pool.take({"a": 2, "b": 1})) == []


def test_a_finished_node_is_kept_while_needed_or_pinned():
    pool = Pool(limit=4)
    parent = add(pool, "parent", node="p", priority=1)
    add(pool, "child 1", waits=["p"])
    add(pool, "child 2", waits=["p"])
    pool.pinned.add("p")
    list(pool.take({"a": 1}))  # the parent; no room for more on one single-thread worker...
    pool.finished(parent, "future of p")
    sent = list(pool.take({"a": 1}))
    assert len(sent) == 2 and "p" in pool.done  # ...sent both children, and p is pinned
    pool.pinned.discard("p")
    pool.release("p")
    assert "p" not in pool.done


def test_prepare_reshapes_the_chosen_task_before_it_is_sent():
    def prepare(task):
        if task.name == "group":  # send one leaf now, leave the other for later
            task.payload = ["leaf 1"]
            pool.add("rest", None, ["leaf 2"], [Wait("v")], ["v"], 0)
        elif task.name == "vec":  # take the pooled group into the node's own task
            pool.remove(other)
            task.payload = ["vec", "leaf 3"]

    pool = Pool(limit=4, prepare=prepare)
    vec = add(pool, "vec", node="v")
    other = add(pool, "other", waits=["v"])
    [(task, _, _)] = list(pool.take({"a": 1}))
    assert task is vec and task.payload == ["vec", "leaf 3"] and other not in pool.tasks
    pool.finished(vec, "future of v")
    assert "v" not in pool.done  # the folded task no longer needs it

    pool = Pool(limit=4, prepare=prepare)
    add(pool, "v's task", node="v")
    [(parent, _, _)] = list(pool.take({"a": 1}))
    pool.add("group", None, ["leaf 1", "leaf 2"], [Wait("v")], ["v"], 0)
    pool.finished(parent, "future of v")
    sent = list(pool.take({"a": 1}))
    assert [(t.name, t.payload, args) for t, _, args in sent] == [
        ("group", ["leaf 1"], ["future of v"]), ("rest", ["leaf 2"], ["future of v"])]
