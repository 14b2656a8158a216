import { render } from 'preact';
import { Link, Route, Router, Switch } from 'wouter-preact';
import { BASE } from './api';
import { FlowPage, FlowsPage, RunPage, RunsPage, WorkersPage } from './pages';
import './styles.css';

function App() {
  return (
    <Router base={BASE}>
      <header>
        <h1><Link href="/">pgflow</Link></h1>
        <nav><Link href="/">Runs</Link> <Link href="/flows">Flows</Link> <Link href="/workers">Workers</Link></nav>
      </header>
      <Switch>
        <Route path="/">{() => <RunsPage />}</Route>
        <Route path="/runs/:runId">{(p: { runId: string }) => <RunPage runId={p.runId} />}</Route>
        <Route path="/flows">{() => <FlowsPage />}</Route>
        <Route path="/flows/:slug">{(p: { slug: string }) => <FlowPage slug={p.slug} />}</Route>
        <Route path="/workers">{() => <WorkersPage />}</Route>
        <Route><main><p>Not found.</p></main></Route>
      </Switch>
    </Router>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
