export default function P() { return <p>site</p>; }
