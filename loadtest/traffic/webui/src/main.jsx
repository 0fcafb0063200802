// Locust's own web UI (locust-ui) with one more tab, "Shop", placed after Charts.
import { createRoot } from "react-dom/client";
import LocustUi, { baseTabs } from "locust-ui";
import ShopTab from "./ShopTab.jsx";

const tabs = [...baseTabs];
tabs.splice(2, 0, { title: "Shop", key: "shop", component: ShopTab });

createRoot(document.getElementById("root")).render(<LocustUi tabs={tabs} />);
