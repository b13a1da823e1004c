#!/usr/bin/env python3
"""Fails when the library's modules import each other in a cycle.

Reads every `crate::`/`super::` path outside comments and tests in src/
(the binary excluded), resolves it to the longest module path it names,
and looks for cycles in that graph. Run by .ci/run:
    python3 scripts/check_import_cycles.py
"""
import re,os,sys,glob
# map file -> module path; edges from `use crate::a::b` / `use super::x`
root=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
files=[f for f in glob.glob(root+'/**/*.rs',recursive=True) if '/bin/' not in f]
def modpath(f):
    r=os.path.relpath(f,root)[:-3].split('/')
    if r[-1] in ('mod','lib'): r=r[:-1]
    return r
mods={tuple(modpath(f)):f for f in files}
def resolve(cur,parts):
    # longest prefix that is a module
    for k in range(len(parts),0,-1):
        if tuple(parts[:k]) in mods: return tuple(parts[:k])
    return None
edges={}
for key,f in mods.items():
    s=open(f).read()
    s=s.split('#[cfg(test)]')[0]; s=re.sub(r'//.*','',s)
    es=set()
    for m in re.finditer(r'\b(crate|super)::((?:\w+::)*\w+)',s):
        base=list(key) if os.path.basename(f) in ('mod.rs','lib.rs') else list(key)
        if m.group(1)=='crate': parts=m.group(2).split('::')
        else:
            parent=list(key)[:-1] if os.path.basename(f) not in ('mod.rs',) else list(key)[:-1]
            parts=parent+m.group(2).split('::')
        t=resolve(key,parts)
        if t is not None and t!=key and t!=(): es.add(t)
    edges[key]=es
# ignore edges from a parent mod.rs to its own children (declarations/re-exports) -- those are tree edges
def is_child(a,b): return len(b)>len(a) and b[:len(a)]==a
def is_ancestor(a,b): return is_child(b,a)
# cycles: DFS
import sys
sys.setrecursionlimit(10000)
color={};stack=[];cyc=[]
def dfs(u):
    color[u]=1;stack.append(u)
    for v in edges.get(u,()):
        if color.get(v)==1: cyc.append(stack[stack.index(v):]+[v])
        elif not color.get(v): dfs(v)
    stack.pop();color[u]=2
for u in edges:
    if not color.get(u): dfs(u)
for c in cyc: print(' -> '.join('::'.join(x) or 'lib' for x in c))
print(len(cyc),'import cycles in src/')
sys.exit(1 if cyc else 0)
